"""The plan and what it asks of the year: ``compliance`` counts what went out against each target, by
``periods``; ``province`` sets every commune against the province's targets; ``report`` writes the periodic
report to the Department of Home Affairs; ``activities`` keeps the register of conferences, dialogues and
contests; ``plan_import`` reads a plan document and ``unit_import`` a province's communes into the
configuration. (A forecast of a period, which runs the dispatcher and the gap filler, is ``scheduler.simulate``.)"""
