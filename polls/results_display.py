"""Shaping results for the results page: bar rows, runoff table, city map."""

from django.utils.safestring import mark_safe

from polls.content_languages import localized
from polls.models import Poll, PollKind
from polls.world_map import MapPoint, city_map_svg


def option_texts(poll: Poll) -> dict:
    """Option labels in the reader's language by option id. Results and the board name
    options by id and carry labels in the poll's own language; this only relabels."""
    return {
        option.pk: localized(option, "label", own_language=poll.language) for option in poll.options.all()
    }


def _text(texts: dict, row: dict):
    return texts.get(row["id"], row["label"])


def results_rows(poll: Poll, results: dict) -> list[dict]:
    """Options by votes, with the bar width relative to the leader, and each label in
    the reader's language (``text``, marked with its language; ``plain``)."""
    texts = option_texts(poll)
    rows = sorted(results["options"], key=lambda row: (-row["votes"], row["label"]))
    top = max((row["votes"] for row in rows), default=0) or 1
    return [
        {
            **row,
            "text": _text(texts, row),
            "plain": str(_text(texts, row)),
            "percent": row["share"] * 100,
            "bar": round(row["votes"] * 100 / top, 1),
        }
        for row in rows
    ]


def results_rounds(poll: Poll, results: dict) -> list[dict]:
    """Instant-runoff rounds as table rows: one row per option, one column per round."""
    rounds = results.get("rounds") or []
    if not rounds:
        return []
    texts = option_texts(poll)
    labels = {option["id"]: _text(texts, option) for option in results["options"]}
    table = []
    for option_id, label in labels.items():
        cells = [record["tallies"].get(str(option_id)) for record in rounds]
        eliminated_in = next((r["round"] for r in rounds if r["eliminated"] == option_id), None)
        table.append(
            {
                "label": str(label),
                "text": label,
                "cells": cells,
                "eliminated_in": eliminated_in,
                "winner": results.get("winner") == option_id,
            }
        )
    table.sort(key=lambda row: (not row["winner"], -(row["eliminated_in"] or 99)))
    return table


def city_map_for(poll: Poll, results: dict) -> str | None:
    if poll.kind != PollKind.CITY:
        return None
    votes = {row["id"]: row for row in results["options"]}
    points = [
        MapPoint(
            label=localized(option, "label", own_language=poll.language).text,
            latitude=float(option.latitude),
            longitude=float(option.longitude),
            votes=votes.get(option.pk, {}).get("votes", 0),
            share=votes.get(option.pk, {}).get("share"),
        )
        for option in poll.options.all()
        if option.latitude is not None and option.longitude is not None
    ]
    if not points:
        return None
    # city_map_svg escapes every label; the SVG is built here, not from user HTML.
    return mark_safe(city_map_svg(points, title=localized(poll, "title").text, width=480))
