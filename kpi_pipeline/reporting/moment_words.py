"""The first screen's words (reporting.moment), English and Dutch, merged into
:data:`kpi_pipeline.reporting.i18n.WORDS`."""

MOMENT_WORDS: dict[str, dict[str, str]] = {
    "moment_ended": {"en": "{period} ended", "nl": "{period} is afgesloten"},
    "moment_now": {"en": "{period} so far", "nl": "{period} tot nu toe"},
    "moment_all_final": {"en": "final", "nl": "definitief"},
    "moment_not_final": {"en": "not final yet for {n}", "nl": "nog niet definitief voor {n}"},
    "moment_no_verdict": {
        "en": "no KPI with a target to judge",
        "nl": "geen KPI met een doel om te beoordelen",
    },
    "moment_year_h": {"en": "Toward the year {year}", "nl": "Op weg naar het jaardoel {year}"},
    "moment_no_year": {
        "en": "no KPI has a target for the year",
        "nl": "geen KPI heeft een doel voor het jaar",
    },
    "moment_of": {
        "en": "{kpi}: {actual} of {target} for the year",
        "nl": "{kpi}: {actual} van {target} voor het jaar",
    },
    "moment_vs": {
        "en": "{kpi}: {actual} for the year, target {target}",
        "nl": "{kpi}: {actual} voor het jaar, doel {target}",
    },
    "moment_projected": {"en": "projected {value}", "nl": "prognose {value}"},
    "moment_open_on_track": {"en": "on course to achieve", "nl": "op weg om het te halen"},
    "moment_open_at_risk": {"en": "at risk of missing", "nl": "dreigt het net te missen"},
    "moment_open_off_track": {
        "en": "projected to miss",
        "nl": "haalt het naar verwachting niet",
    },
    "moment_open_too_early": {"en": "too early to tell", "nl": "nog te vroeg om te zeggen"},
    "moment_actions_h": {"en": "Act on first", "nl": "Eerst aanpakken"},
    "moment_no_actions": {
        "en": "nothing off track or missed",
        "nl": "niets niet op koers of niet behaald",
    },
    "moment_behind": {
        "en": "{status}: {actual} so far, {expected} expected by now; projected {projected} "
        "against a target of {target}",
        "nl": "{status}: {actual} tot nu toe, {expected} verwacht; prognose {projected} "
        "bij een doel van {target}",
    },
    "moment_behind_pace": {
        "en": "{status}: {actual} so far; projected {projected} against a target of {target}",
        "nl": "{status}: {actual} tot nu toe; prognose {projected} bij een doel van {target}",
    },
    "moment_missed": {
        "en": "missed in {period}: {actual} against a target of {target}",
        "nl": "niet behaald in {period}: {actual} bij een doel van {target}",
    },
}
