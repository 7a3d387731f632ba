"""Second opinions learned from the corpora: linear models over letter and word patterns.

The concept rules (acute.yaml) and the router (node phrases and keywords) know what staff have
written down; people write in words nobody has seen yet. Letter patterns (parts of words, so typos,
dialect and missing æøå still meet) and word pairs, weighed by a logistic regression trained on the
labelled tuning sets, recognise the *kind* of message. Two models are shipped:

- the danger model (is someone in danger, and which acute answer): when the rules find nothing and
  it is fairly sure, the acute help comes first and the ordinary answer after it (a weak alarm);
  when a weak rule cue stands in a message the bot cannot otherwise answer and the model finds it
  further from danger than any real danger it learned from ("vi brukar knivar av papp i dansen"),
  the honest fallback answers alone: it shows 112 and the acute button itself;
- the answer model (which node answers the message): when it is fairly sure, its node is the answer,
  otherwise the router decides.

`scripts/train_models.py` trains both (scikit-learn, a development tool only); here they are only
weights and a dot product, so serving needs no machine-learning library.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

from bot.understanding.text import words

DANGER_MODEL_FILE = Path(__file__).with_name("danger_model.json.gz")
ANSWER_MODEL_FILE = Path(__file__).with_name("answer_model.json.gz")
NO_DANGER = "-"
"""The danger model's class for a message in which nobody is in danger."""
SHORTEST_GRAM, LONGEST_GRAM = 2, 5


def features(text: str) -> list[str]:
    """The patterns the models weigh: each word, each word pair and each word's letter groups."""
    message = words(text)
    found = [f"w:{w}" for w in message]
    found += [f"p:{a}_{b}" for a, b in pairwise(message)]
    for word in message:
        found += _letter_groups(word)
    return found


@lru_cache(maxsize=50_000)
def _letter_groups(word: str) -> tuple[str, ...]:
    # Words repeat from message to message; their letter groups are worked out once.
    padded = f" {word} "
    return tuple(
        padded[i : i + size]
        for size in range(SHORTEST_GRAM, LONGEST_GRAM + 1)
        for i in range(max(len(padded) - size + 1, 1))
    )


def node_words_digest(title: str, phrases: tuple[str, ...], keywords: tuple[str, ...]) -> str:
    """What staff wrote for the router about one node, as a short digest: when it differs from the
    digest the answer model was trained with, staff have changed the node since, and their words win."""
    digest = hashlib.sha256("\0".join([title, *sorted(phrases), "", *sorted(keywords)]).encode())
    return digest.hexdigest()[:12]


def digest_of(paths: list[Path]) -> str:
    """A digest of the labelled sets, so a test can tell when a model is older than they are."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class PatternModel:
    """Tf-idf weights and one linear function per class (a node id, or NO_DANGER)."""

    idf: dict[str, float]
    """How rare each known pattern is; unknown patterns count for nothing."""
    classes: tuple[str, ...]
    weights: dict[str, tuple[tuple[int, float], ...]]
    """Per pattern, its (class index, weight) pairs; weights too small to matter are left out."""
    intercepts: tuple[float, ...]
    threshold: float
    """The least probability that counts as "fairly sure" (chosen on held-apart folds)."""
    veto: float
    """Danger model: the probability of danger below which a message is "far from every danger
    message" (0: never). Chosen on held-apart folds: half the least any real danger got there."""
    trained_on: str
    """A digest of the labelled sets it learned from (a test checks it is not stale)."""
    node_words: dict[str, str]
    """Per node, the digest of its router words when the model was trained (node_words_digest)."""

    @classmethod
    def from_json(cls, data: dict[str, object]) -> PatternModel:
        """From the file the training script writes."""
        vocabulary, idf, weights = data["vocabulary"], data["idf"], data["weights"]
        classes, intercepts = data["classes"], data["intercepts"]
        node_words = data.get("node_words")
        if not (
            isinstance(vocabulary, list)
            and isinstance(idf, list)
            and isinstance(weights, list)
            and isinstance(classes, list)
            and isinstance(intercepts, list)
        ):
            raise ValueError("the model file is not in the expected form; train it again")
        return cls(
            idf={str(p): float(v) for p, v in zip(vocabulary, idf, strict=True)},
            classes=tuple(str(c) for c in classes),
            weights={
                str(p): tuple((int(c), float(w)) for c, w in row)
                for p, row in zip(vocabulary, weights, strict=True)
            },
            intercepts=tuple(float(b) for b in intercepts),
            threshold=float(str(data["threshold"])),
            veto=float(str(data.get("veto", 0.0))),
            trained_on=str(data["trained_on"]),
            node_words={str(k): str(v) for k, v in node_words.items()}
            if isinstance(node_words, dict)
            else {},
        )

    def probabilities(self, text: str) -> dict[str, float]:
        """Each class's probability for the message (as scikit-learn's predict_proba computes it)."""
        idf, weights = self.idf, self.weights
        counts = Counter(f for f in features(text) if f in idf)
        scores = [0.0] * len(self.intercepts)
        squares = 0.0
        for pattern, count in counts.items():
            value = (1.0 + math.log(count)) * idf[pattern]
            squares += value * value
            for index, weight in weights[pattern]:
                scores[index] += weight * value
        norm = math.sqrt(squares) or 1.0  # the l2 norm of the tf-idf vector, applied once
        scores = [s / norm + b for s, b in zip(scores, self.intercepts, strict=True)]
        if len(scores) == 1:  # two classes: one function, for the second class
            second = 1.0 / (1.0 + math.exp(-scores[0]))
            return {self.classes[0]: 1.0 - second, self.classes[1]: second}
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        return {c: e / total for c, e in zip(self.classes, exps, strict=True)}

    def danger(self, text: str) -> tuple[str, float] | None:
        """The acute node the message most likely needs and the probability of any danger, when
        that probability reaches the threshold; None otherwise."""
        chances = self.probabilities(text)
        in_danger = sum(p for c, p in chances.items() if c != NO_DANGER)
        if in_danger < self.threshold:
            return None
        node = max((c for c in chances if c != NO_DANGER), key=chances.__getitem__)
        return node, in_danger

    def far_from_danger(self, text: str) -> bool:
        """Whether the message is less like the danger messages than any real danger was (the veto)."""
        return 1.0 - self.probabilities(text).get(NO_DANGER, 1.0) < self.veto

    def best(self, text: str) -> tuple[str, float] | None:
        """The most likely class and its probability, when it reaches the threshold."""
        chances = self.probabilities(text)
        node = max(chances, key=chances.__getitem__)
        return (node, chances[node]) if chances[node] >= self.threshold else None


def _load(path: Path) -> PatternModel | None:
    if not path.exists():
        return None
    with gzip.open(path, "rt", encoding="utf-8") as file:
        return PatternModel.from_json(json.load(file))


@lru_cache(maxsize=1)
def danger_model() -> PatternModel | None:
    """The danger model trained for this version of the code, or None when there is none."""
    return _load(DANGER_MODEL_FILE)


@lru_cache(maxsize=1)
def answer_model() -> PatternModel | None:
    """The answer model trained for this version of the code, or None when there is none."""
    return _load(ANSWER_MODEL_FILE)
