"""Train the pattern models (bot/understanding/*_model.json.gz) on the labelled tuning sets.

    uv run --group train python scripts/train_models.py

Only the sets staff tune on are read (bot/commands/confusion.py, TUNED_ON); the held-out sets stay
unseen, so their figures stay honest. Each threshold is chosen on held-apart folds of the tuning
sets, never on the held-out sets:
- danger: the lowest probability at which the model's own alarms (those the rules miss) stay under
  2 % of the messages in which nobody is in danger; and the veto, below which a weak rule cue in
  a message the bot cannot otherwise answer gives way to the fallback: half the least probability
  any real danger caught only by a weak rule got;
- answer: the probability above which the model's node is right more often than the router's.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline, make_pipeline

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.commands.common import engine_or_exit  # noqa: E402
from bot.commands.confusion import CORPUS, TUNED_ON  # noqa: E402
from bot.content.scripts import FALLBACK  # noqa: E402
from bot.staff.evaluation import load_examples  # noqa: E402
from bot.understanding.pattern_model import (  # noqa: E402
    ANSWER_MODEL_FILE,
    DANGER_MODEL_FILE,
    NO_DANGER,
    digest_of,
    features,
)

ACUTE = ("akutt", "akutt_selvmord")
MIN_DF = 2  # a pattern must occur in two messages to count
EXTRA_FALSE_ALARMS = 0.02
VETO_MARGIN = 2.0
DECIMALS = 4  # weights are stored rounded, and smaller ones left out (the file stays small)
SMALLEST_WEIGHT = 0.02
PROBES = ["han står utenfor døra mi nå", "jeg orker ikke mer", "når er telefonen åpen", "hva koster kurset"]


def pipeline(c: float, balanced: bool) -> Pipeline:
    """Tf-idf of the patterns, then a logistic regression."""
    return make_pipeline(
        TfidfVectorizer(analyzer=features, min_df=MIN_DF, sublinear_tf=True),
        LogisticRegression(C=c, max_iter=3000, class_weight="balanced" if balanced else None),
    )


def held_apart(c: float, balanced: bool, texts: list[str], labels: np.ndarray) -> np.ndarray:
    """Each message's probabilities from a model that never saw it (five folds)."""
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    return cross_val_predict(pipeline(c, balanced), texts, labels, cv=folds, method="predict_proba")


def write(
    model: Pipeline,
    path: Path,
    threshold: float,
    trained_on: str,
    node_words: dict[str, str],
    veto: float = 0.0,
) -> None:
    """Round and thin the weights inside the model first, so the probes are what serving computes."""
    vectorizer, regression = model.steps[0][1], model.steps[1][1]
    vectorizer.idf_ = np.round(vectorizer.idf_, DECIMALS + 2)
    coef = np.round(regression.coef_, DECIMALS)
    coef[np.abs(coef) < SMALLEST_WEIGHT] = 0.0
    regression.coef_ = coef
    regression.intercept_ = np.round(regression.intercept_, DECIMALS)
    vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    weights = [
        [[int(k), float(coef[k, i])] for k in np.flatnonzero(coef[:, i])] for i in range(len(vocabulary))
    ]
    data: dict[str, Any] = {
        "trained_on": trained_on,
        "node_words": node_words,
        "threshold": round(float(threshold), 2),
        "veto": round(veto, 4),
        "classes": [str(c) for c in regression.classes_],
        "vocabulary": vocabulary,
        "idf": [float(v) for v in vectorizer.idf_],
        "weights": weights,
        "intercepts": [float(v) for v in regression.intercept_],
        "probes": {p: [round(float(v), 6) for v in model.predict_proba([p])[0]] for p in PROBES},
    }
    # Written beside it, then moved over it: a bot starting meanwhile reads the old file or the new.
    unfinished = path.with_name(path.name + ".part")
    with gzip.GzipFile(unfinished, "wb", mtime=0) as file:  # mtime=0: the same sets, the same bytes
        file.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())
    unfinished.replace(path)
    size = path.stat().st_size // 1024
    classes = len(data["classes"])
    print(f"wrote {path.relative_to(ROOT)}: {len(vocabulary)} patterns, {classes} classes, {size} KiB")


def danger(
    texts: list[str], expect: Sequence[str], rules: np.ndarray, weak_only: np.ndarray, trained_on: str
) -> None:
    """Is someone in danger (and which acute answer)."""
    labels = np.array([e if e in ACUTE else NO_DANGER for e in expect])
    apart = held_apart(4.0, True, texts, labels)
    classes = sorted(set(labels))
    in_danger = apart[:, [classes.index(c) for c in ACUTE]].sum(axis=1)
    safe = labels == NO_DANGER
    threshold = next(
        t
        for t in np.arange(0.30, 0.96, 0.01)
        if ((in_danger >= t) & ~rules & safe).sum() / safe.sum() <= EXTRA_FALSE_ALARMS
    )
    caught = ((in_danger >= threshold) | rules)[~safe].mean()
    # Below half the least probability any real danger caught only by a weak rule got on the
    # held-apart folds, a weak cue gives way to the fallback: none of those would have.
    weak_danger = weak_only & ~safe
    veto = float(in_danger[weak_danger].min()) / VETO_MARGIN if weak_danger.any() else 0.0
    print(
        f"danger: threshold {threshold:.2f}; on held-apart folds rules or model catch {caught:.1%}; "
        f"veto {veto:.3f} (the least real danger caught only by a weak rule: {veto * VETO_MARGIN:.3f})"
    )
    model = pipeline(4.0, True).fit(texts, labels)
    write(model, DANGER_MODEL_FILE, threshold, trained_on, {}, veto=veto)


def answer(
    texts: list[str], expect: Sequence[str], routed: list[str], trained_on: str, node_words: dict[str, str]
) -> None:
    """Which node answers the message."""
    labels = np.array(expect)
    apart = held_apart(8.0, False, texts, labels)
    classes = sorted(set(labels))
    best = [classes[i] for i in apart.argmax(axis=1)]
    sure = apart.max(axis=1)
    judged = [i for i, e in enumerate(expect) if e not in ACUTE]  # danger has its own model

    def right_with(t: float) -> float:
        hits = [
            (best[i] == expect[i]) if sure[i] >= t and best[i] not in ACUTE else (routed[i] == expect[i])
            for i in judged
        ]
        return sum(hits) / len(hits)

    scores = {round(float(t), 2): right_with(t) for t in np.arange(0.20, 0.96, 0.05)}
    threshold = max(scores, key=lambda t: (scores[t], t))
    router_alone = sum(routed[i] == expect[i] for i in judged) / len(judged)
    print(
        f"answer: threshold {threshold:.2f}; on held-apart folds {scores[threshold]:.1%} right "
        f"(the router alone, on the sets it was tuned on: {router_alone:.1%})"
    )
    write(pipeline(8.0, False).fit(texts, labels), ANSWER_MODEL_FILE, threshold, trained_on, node_words)


def main() -> None:
    paths = [CORPUS / name for name in TUNED_ON]
    examples = load_examples(*paths)
    texts = [e.text for e in examples]
    expect = [e.expect for e in examples]
    engine = engine_or_exit(None)
    alerts = [engine.rules_alert(t) for t in texts]
    rules = np.array([a is not None for a in alerts])
    weak_only = np.array([a is not None and a.weak for a in alerts])
    router = engine.router()
    routed = []
    for text in texts:
        result = router.route(text)
        routed.append(
            "" if result.close_runners_up else (result.best.node if result.best is not None else FALLBACK)
        )
    trained_on = digest_of(paths)
    danger(texts, expect, rules, weak_only, trained_on)
    answer(texts, expect, routed, trained_on, engine.node_words())


if __name__ == "__main__":
    main()
