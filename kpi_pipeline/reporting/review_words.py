"""The review's words, English and Dutch (with the change words the scorecard shares), merged into
:data:`kpi_pipeline.reporting.i18n.WORDS`."""

REVIEW_WORDS: dict[str, dict[str, str]] = {
    "review_title": {"en": "Review {period}", "nl": "Evaluatie {period}"},
    "achieved_h": {"en": "Achieved", "nl": "Behaald"},
    "missed_h": {"en": "Missed", "nl": "Niet behaald"},
    "open_h": {"en": "Still open", "nl": "Nog lopend"},
    # an open period speaks of projections: on course to achieve, projected to miss
    "on_course_h": {"en": "On course to achieve", "nl": "Op koers om te behalen"},
    "projected_miss_h": {"en": "Projected to miss", "nl": "Naar verwachting niet behaald"},
    "review_intro_open": {
        "en": "{achieved} of {scored} KPIs with a target on course to achieve, "
        "{missed} projected to miss.",
        "nl": "{achieved} van {scored} KPI's met een doel op koers om te behalen, "
        "{missed} naar verwachting niet behaald.",
    },
    "no_data_h": {"en": "No data", "nl": "Geen gegevens"},
    # movers in the KPI's direction: fewer sick days is good news
    "movers_good_h": {"en": "Biggest changes for the better", "nl": "Grootste verbeteringen"},
    "movers_bad_h": {"en": "Biggest changes for the worse", "nl": "Grootste verslechteringen"},
    # the year table's columns: where each figure stands
    "end_of": {"en": "End of {period}", "nl": "Eind {period}"},
    "as_of_h": {"en": "As of {date}", "nl": "Stand op {date}"},
    "twice_h": {
        "en": "Off track two periods running",
        "nl": "Twee periodes na elkaar niet op koers",
    },
    "year_h": {"en": "The year's goal", "nl": "Het jaardoel"},
    "next_h": {"en": "Targets for {period}", "nl": "Doelen voor {period}"},
    "none": {"en": "none", "nl": "geen"},
    "no_data_for": {"en": "no data for {periods}", "nl": "geen gegevens voor {periods}"},
    "ytd": {"en": "Year to date", "nl": "Jaar tot nu"},
    "year_target": {"en": "Year target", "nl": "Jaardoel"},
    "still_needed": {"en": "Still needed", "nl": "Nog nodig"},
    "per_period": {"en": "Per remaining {grain}", "nl": "Per resterende {grain}"},
    "reached": {"en": "reached", "nl": "bereikt"},
    "grain_month": {"en": "month", "nl": "maand"},
    "grain_quarter": {"en": "quarter", "nl": "kwartaal"},
    "grain_week": {"en": "week", "nl": "week"},
    "grain_year": {"en": "year", "nl": "jaar"},
    "change": {"en": "Change", "nl": "Verandering"},
    "previous": {"en": "Previous", "nl": "Vorige"},
    # a change over a tiny base (README.md#what-the-numbers-mean): "▲ new", "▲ from 1", not "▲ 800%"
    "change_new": {"en": "new", "nl": "nieuw"},
    "change_from": {"en": "from {base}", "nl": "van {base}"},
    "review_intro": {
        "en": "{achieved} of {scored} KPIs with a target achieved, {missed} missed.",
        "nl": "{achieved} van {scored} KPI's met een doel behaald, {missed} niet behaald.",
    },
    "review_open": {
        "en": "The period is still open: statuses are projections as of {date}.",
        "nl": "De periode loopt nog: de statussen zijn prognoses op {date}.",
    },
}
