"""cartsim from Python: the studies the command line runs, as results with tables.

Run it from the repository root (``python examples/quickstart.py``), or paste the
cells into a notebook. Every study returns a frozen result: ``tables()`` lists its
tables, ``table(name)`` gives one (tidy rows, decoded labels) and ``to_pandas(name)``
a DataFrame when pandas is installed (``pip install 'cartsim[pandas]'``). The sizes
here are small, so it runs in seconds; use the defaults for real answers.
"""

# %% A scenario: the base case, with one assumption changed as --set would.
import cartsim

scenario = cartsim.load_scenario("scenarios/base.toml", ["car_t.relapse.rate=0.08"])
print(scenario.title, "|", ", ".join(scenario.strategies))

# %% The base case: every strategy simulated once on the same patients.
base = cartsim.run(scenario, patients=500, seed=1)
print(base.tables())
summary = base.table("summary")
for strategy, cost, qaly in zip(summary.column("strategy"), summary.column("cost"),
                                summary.column("qaly"), strict=True):
    print(f"{strategy:18} cost {cost:12,.0f}  QALYs {qaly:7.3f}")
car_t = summary.column("strategy").index("car_t")
print("ICER:", summary.rows[car_t][summary.columns.index("icer")],
      summary.column("icer_status")[car_t])
deaths = base.table("deaths")  # causes are names, not codes
print(sorted(set(deaths.column("cause"))))
try:
    frame = base.to_pandas("summary")
    print(frame[["strategy", "cost", "qaly", "icer"]])
except ImportError as err:  # pandas is an optional extra
    print(err)

# %% The value-based price: the runner simulates each strategy once and values that
# simulation at every price the root finder tries.
price = cartsim.threshold(scenario, "costs.car_t.product", wtp=[150_000], patients=500, seed=1)
row = price.table("threshold").rows[0]
print(dict(zip(price.table("threshold").columns, row, strict=True))["threshold"])
print("engine passes:", price.manifest.extra["simulations"])

# %% One-way sensitivity on a few parameters (all of them: leave `parameters` out). The
# relapse rate was set above, so it is fixed and has no range: it would be skipped.
dsa = cartsim.dsa(scenario, parameters=["car_t.response.sle", "costs.car_t.product",
                                        "utilities.sle.remission"], patients=300, seed=1)
tornado = dsa.table("tornado")
for rank, name, swing in zip(tornado.column("rank"), tornado.column("parameter"),
                             tornado.column("swing"), strict=True):
    print(rank, name, round(swing))

# %% A small probabilistic analysis on the shipped example (a tiny custom model).
psa = cartsim.psa(cartsim.example_scenario(), draws=30, patients=200, seed=2)
ceac = psa.table("ceac")
print(psa.tables())
print("EVPI at the first WTP:", psa.table("evpi").rows[0][1])
print("draw-level QALYs:", psa.matrix("qaly").shape, "CEAC rows:", len(ceac.rows))
