"""The confidence suite's claims (``guidedrl.experiments.claims``) on hand-made per-run measures."""

from guidedrl.experiments import claims


def _runs(final, catastrophes=0.0, early=0.0):
    return {seed: {"final_return": final + seed, "auc": 0.0, "train_catastrophes": catastrophes + seed,
                   "fewer_catastrophes": -(catastrophes + seed), "early_return": early + seed}
            for seed in range(5)}


def _rows(groups):
    return {(row[1], row[2], row[3]): row[-1] for row in claims.confidence_verdicts(groups, reps=200)}


def test_q_gap_recovering_the_region_and_a_wide_region_costing():
    task = "PointMass-v0"
    groups = {(task, "sag"): _runs(800), (task, "sag[region=always]"): _runs(500),
              (task, "sag[region=always,confidence=q-gap]"): _runs(800)}
    rows = _rows(groups)
    assert rows[task, "sag[region=always] vs sag", "final return higher"] == "reversed"
    assert rows[task, "sag[region=always,confidence=q-gap] vs sag[region=always]", "final return higher"] == "holds"
    assert rows[task, "sag[region=always,confidence=q-gap] vs sag", "final return higher"] == "recovered (unresolved)"
    assert not any(key[1].startswith("pag") for key in rows)  # no pag runs: no pag rows
    groups[task, "sag[region=always,confidence=q-gap]"] = _runs(100)
    assert _rows(groups)[task, "sag[region=always,confidence=q-gap] vs sag", "final return higher"] == \
        "not recovered (reversed)"


def test_safety_is_judged_on_repulsive_tasks_only_and_jsrl_against_pag():
    groups = {}
    for task in ("SafeCartpole-v0", "PointMass-v0"):
        groups.update({(task, "pag"): _runs(700, catastrophes=0), (task, "pag[confidence=q-gap]"): _runs(700, 40),
                       (task, "jsrl"): _runs(900, catastrophes=0, early=500), (task, "none"): _runs(0, 50)})
    rows = _rows(groups)
    assert rows["SafeCartpole-v0", "pag[confidence=q-gap] vs pag", "fewer training catastrophes"] == \
        "not kept (reversed)"
    assert ("PointMass-v0", "pag[confidence=q-gap] vs pag", "fewer training catastrophes") not in rows
    assert rows["PointMass-v0", "jsrl vs pag", "early return higher"] == "holds"
    assert rows["PointMass-v0", "jsrl vs pag", "final return higher"] == "holds"
    table = list(claims.confidence_catastrophes(groups, reps=200))
    assert {(task, strategy) for task, strategy, *_ in table} == {
        ("SafeCartpole-v0", s) for s in ("jsrl", "none", "pag", "pag[confidence=q-gap]")}
    mean = {strategy: row[-1] for _, strategy, *row in table}
    assert mean["none"] == 52.0 and mean["pag"] == 2.0


def test_the_risk_confidence_claims_on_a_repulsive_and_an_attractive_task():
    reflex, attractive = "SafeCartpole-v0", "PointMass-v0"
    groups = {(reflex, "sag"): _runs(800, catastrophes=0.0),
              (reflex, "sag[confidence=risk]"): _runs(790, catastrophes=8.0),
              (reflex, "sag[region=always,confidence=risk]"): _runs(300, catastrophes=0.0),
              (attractive, "sag[region=always,confidence=q-gap]"): _runs(800),
              (attractive, "sag[region=always,confidence=risk]"): _runs(800)}
    rows = _rows(groups)
    assert rows[reflex, "sag[confidence=risk] vs sag", "fewer training catastrophes"] == "not met (reversed)"
    assert rows[reflex, "sag[region=always,confidence=risk] vs sag", "final return higher"] == "not met (reversed)"
    assert rows[reflex, "sag[region=always,confidence=risk] vs sag", "fewer training catastrophes"] \
        == "met (unresolved)"
    assert rows[attractive, "sag[region=always,confidence=risk] vs sag[region=always,confidence=q-gap]",
                "final return higher"] == "met (unresolved)"
