"""Route a free-text message to the node that answers it, from the phrases staff wrote.

Each node is a small document (its phrases, keywords and title); a message is scored against
every node with BM25 over Norwegian stems and pairs of neighbouring words, after synonyms
(Nynorsk, dialect, English → the scripts' words), typo correction (rapidfuzz) and compound
splitting. A weak best score is admitted as "not understood"; two close scores become "Mente du …?".
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from itertools import pairwise

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.content.scripts import LanguageScript, ScriptNode
from bot.understanding.text import (
    compound_parts,
    fold,
    is_english_word,
    is_everyday_word,
    stem,
    stem_english,
    words,
)

KEYWORD_WEIGHT = 2.0  # a keyword is a stronger hint than a word in an example phrase
TITLE_WEIGHT = 1.0
PART_WEIGHT = 0.6  # a part of a compound says less than the whole word
PAIR_WEIGHT = 1.0  # two neighbouring words ("vet ikke", "hvem … ringe") count once more as a pair
# A word that recurs across a node's phrases is central to it, so term frequency saturates slowly.
BM25_K1, BM25_B = 2.0, 0.75
MIN_SCORE = 3.4  # below this the best guess is not good enough to answer with
# Each word nothing could explain raises the bar: a message mostly about something else ("hva koster
# billetten til konserten på lørdag") is not answered from the one word it shares with a node.
UNKNOWN_PENALTY, MAX_PENALTY = 0.3, 4.0  # long stories keep most of their score: they matter most
# A common real word the scripts never use ("parkering", "gitar", "bussen") says the message is about
# something else more surely than an unknown word that may be a typo or dialect.
FOREIGN_PENALTY = 0.8
AMBIGUOUS_RATIO = 0.9  # a runner-up this close to the best → ask which one was meant
CONTEXT_BOOST = 1.15  # a short follow-up usually belongs to the topic the reader is in
MIN_FUZZY_LENGTH = 5  # shorter words are too often other real words to be corrected
SHORT_WORD, LONG_WORD = 7, 9  # typos allowed: one slip (a swap counts as one); two from LONG_WORD letters
FUZZY_PREFIX = 2  # typos rarely hit the first letters, and requiring them blocks iphone → phone
MAX_CANDIDATES = 5
# A message that holds one of a node's phrases word for word ("ingen tror på meg") means that node,
# even when every word in it is a common one the scores cannot see.
WHOLE_PHRASE_BONUS, WHOLE_PHRASE_MIN_WORDS = 6.0, 3

Terms = dict[str, float]


@dataclass(frozen=True)
class Vocabulary:
    """Language data shared by all nodes: synonyms and words too common to mean anything."""

    synonyms: Mapping[str, str]
    ignore: frozenset[str]
    generic: frozenset[str] = frozenset()
    """Words that count only beside a word of the scripts' topics (see words.yaml)."""
    english: frozenset[str] = frozenset()
    """Phrases and keywords written in English: stemmed as English ("harassing" → "harass")."""


@dataclass(frozen=True)
class Match:
    """A candidate node, its topic and its score."""

    node: str
    topic: str
    score: float


@dataclass(frozen=True)
class RouteResult:
    """The ranked candidates; `best` is None when nothing is good enough."""

    candidates: tuple[Match, ...]
    unknown: int = 0
    """How many meaningful words of the message nothing could explain."""
    foreign: int = 0
    """How many of those are common real words (by wordfreq), not typos or dialect."""
    said: frozenset[str] = frozenset()
    """The nodes one of whose phrases (three words or more) the message holds word for word."""

    @property
    def in_staffs_words(self) -> bool:
        """Whether the best answer is a node whose phrase the message holds word for word."""
        return self.best is not None and self.best.node in self.said

    @property
    def bar(self) -> float:
        """The score the best candidate needs: higher when much of the message was not understood."""
        return MIN_SCORE + min(self.unknown * UNKNOWN_PENALTY + self.foreign * FOREIGN_PENALTY, MAX_PENALTY)

    @property
    def best(self) -> Match | None:
        """The winning candidate, if it clears the bar."""
        return self.candidates[0] if self.candidates and self.candidates[0].score >= self.bar else None

    @property
    def close_runners_up(self) -> tuple[Match, ...]:
        """The best and up to two almost as good from other topics, when the choice is unclear.

        Within one topic the best answer is a fine answer (its buttons lead to the rest).
        """
        best = self.best
        if best is None:
            return ()
        close: list[Match] = []
        for match in self.candidates[1:]:
            if match.score < best.score * AMBIGUOUS_RATIO or len(close) == 2:
                break
            if match.topic != best.topic and all(match.topic != c.topic for c in close):
                close.append(match)
        return (best, *close) if close else ()


class Router:
    """Scores messages against one language's nodes."""

    def __init__(self, script: LanguageScript, vocabulary: Vocabulary) -> None:
        self._vocabulary = Vocabulary(
            {fold(k): fold(v) for k, v in vocabulary.synonyms.items()},
            frozenset(fold(w) for w in vocabulary.ignore),
            frozenset(fold(w) for w in vocabulary.generic),
            vocabulary.english,
        )
        self._generic = frozenset(stem(self._vocabulary.synonyms.get(w, w)) for w in self._vocabulary.generic)
        self._common_stems = frozenset(stem(w) for w in self._vocabulary.ignore)
        nodes = script.nodes.values()
        self._topics = {n.id: n.topic for n in nodes}
        self._titles = {n.id: frozenset(t for t, means in self._tokens(n.title) if means) for n in nodes}
        raw_docs = {n.id: list(self._node_terms(n)) for n in nodes}
        raw_docs = {k: v for k, v in raw_docs.items() if v}
        self._lexicon = frozenset(term for terms in raw_docs.values() for term, _ in terms)
        self._surface: dict[str, list[str]] = defaultdict(list)  # known words by their first letters
        for word in sorted({w for n in nodes for w in self._node_words(n)} | set(self._vocabulary.synonyms)):
            self._surface[word[:FUZZY_PREFIX]].append(word)
        # By their first two words: "jeg", "hva" and "er" begin hundreds of phrases each.
        self._whole_phrases: dict[tuple[str, str], list[tuple[tuple[str, ...], str]]] = defaultdict(list)
        for node in nodes:
            for phrase in node.phrases:
                said = self._said(phrase)
                if len(said) >= WHOLE_PHRASE_MIN_WORDS:
                    self._whole_phrases[said[0], said[1]].append((said, node.id))
        self._docs: dict[str, Terms] = {}
        for node_id, terms in raw_docs.items():
            doc: Terms = defaultdict(float)
            for term, weight in terms:
                doc[term] += weight
                for part in compound_parts(term, self._lexicon) if len(term) > 6 and " " not in term else ():
                    doc[part] += weight * PART_WEIGHT
            self._docs[node_id] = doc
        self._avg_len = sum(sum(d.values()) for d in self._docs.values()) / max(len(self._docs), 1)
        containing = Counter(term for doc in self._docs.values() for term in doc)
        n_docs = len(self._docs)
        self._idf = {t: math.log(1 + (n_docs - c + 0.5) / (c + 0.5)) for t, c in containing.items()}

    def route(self, text: str, current_node: str | None = None) -> RouteResult:
        """Rank nodes for a message; the current node's topic breaks near-ties."""
        query, unknown, foreign = self._read(text)
        said = self._whole_phrase_nodes(text)
        if not query and not said:
            return RouteResult(())
        current_topic = self._topics.get(current_node or "")
        scores = []
        for node_id, doc in self._docs.items():
            score = self._bm25(query, doc) + (WHOLE_PHRASE_BONUS if node_id in said else 0.0)
            if score > 0 and current_topic is not None and self._topics[node_id] == current_topic:
                score *= CONTEXT_BOOST
            if score > 0:
                scores.append(Match(node_id, self._topics[node_id], score))
        scores.sort(key=lambda m: m.score, reverse=True)
        # "trakassering?" names a node, but its words are in every node and so score low: still answer.
        if scores and scores[0].score < MIN_SCORE and not unknown and self._names(query, scores[0].node):
            scores[0] = replace(scores[0], score=MIN_SCORE)
        return RouteResult(tuple(scores[:MAX_CANDIDATES]), unknown, foreign, said)

    def _said(self, text: str) -> tuple[str, ...]:
        """A text's folded words with synonyms applied: Nynorsk and Bokmål phrases meet."""
        return tuple(self._vocabulary.synonyms.get(w, w) for w in words(text))

    def _whole_phrase_nodes(self, text: str) -> frozenset[str]:
        """The nodes one of whose phrases the message holds word for word."""
        said = self._said(text)
        return frozenset(
            node_id
            for start, pair in enumerate(pairwise(said))
            for phrase, node_id in self._whole_phrases.get(pair, ())
            if said[start : start + len(phrase)] == phrase
        )

    def _names(self, query: Terms, node_id: str) -> bool:
        """Whether the message's words are all in the node's title."""
        single = {term for term in query if " " not in term}
        return bool(single) and single <= self._titles[node_id]

    def features(self, text: str) -> Terms:
        """The weighted stems and word pairs of a message (synonyms, typos and compounds resolved)."""
        return self._read(text)[0]

    def _read(self, text: str) -> tuple[Terms, int, int]:
        """A message's features; how many meaningful words nothing explains, and how many are real words."""
        found: Terms = defaultdict(float)
        tokens: list[tuple[str, bool]] = []
        unknown = foreign = 0
        for word in words(text):
            word = self._vocabulary.synonyms.get(word, word)
            term, means = self._stem(word), self._means(word)
            if means and term not in self._lexicon:
                # A typo of a known word is likelier than a compound of two known words.
                corrected = self._correct(word)
                parts = compound_parts(word, self._lexicon) if corrected is None and len(word) > 6 else ()
                for part in parts:
                    found[part] += PART_WEIGHT
                term = corrected or term
                unexplained = corrected is None and not parts
                unknown += unexplained
                foreign += unexplained and is_everyday_word(word)
            if means and term in self._lexicon:
                found[term] += 1
            tokens.append((term, means))
        for pair in _pairs(tokens):
            if pair in self._lexicon:
                found[pair] += 1
        if unknown and all(self._is_generic(term) for term in found):
            # Only everyday words were understood, beside words the scripts do not know: "hva koster
            # billetten", "hvor søker jeg stipend" are not about this bot's topics.
            return {}, unknown, foreign
        return dict(found), unknown, foreign

    def _stem(self, word: str) -> str:
        """A typed word's stem: English words as English ("gala" is no "gal"), others Norwegian first."""
        english = stem_english(word)
        if is_english_word(word):
            return english
        norwegian = stem(word)
        return english if norwegian not in self._lexicon and english in self._lexicon else norwegian

    def _is_generic(self, term: str) -> bool:
        """A stem, or a pair of stems, made only of generic words (and common ones)."""
        return all(part in self._generic for part in term.split(" ") if part not in self._common_stems)

    def _correct(self, word: str) -> str | None:
        """The known stem a typo most likely meant, if one is close enough."""
        if len(word) < MIN_FUZZY_LENGTH or is_everyday_word(word):
            return None
        candidates = self._surface.get(word[:FUZZY_PREFIX], [])
        # In a short word only a missed letter or a swap is a typo: "vinner" is no typo of "vitner".
        if len(word) < SHORT_WORD:
            candidates = [c for c in candidates if len(c) > len(word) or sorted(c) == sorted(word)]
        max_edits = 1 if len(word) < LONG_WORD else 2
        hit = process.extractOne(word, candidates, scorer=OSA.distance, score_cutoff=max_edits)
        if hit is None:
            return None
        fixed = self._vocabulary.synonyms.get(hit[0], hit[0])
        term = stem(fixed)
        return term if term in self._lexicon and self._means(fixed) else None

    def _bm25(self, query: Terms, doc: Terms) -> float:
        length = sum(doc.values())
        score = 0.0
        for term, q_weight in query.items():
            tf = doc.get(term, 0.0)
            if tf:
                norm = tf * (BM25_K1 + 1) / (tf + BM25_K1 * (1 - BM25_B + BM25_B * length / self._avg_len))
                score += self._idf[term] * norm * min(q_weight, 2.0)
        return score

    def _tokens(self, text: str) -> list[tuple[str, bool]]:
        """Each word's stem (after synonyms), and whether the word can tell topics apart."""
        stemmer = stem_english if text in self._vocabulary.english else stem
        tokens = []
        for word in words(text):
            word = self._vocabulary.synonyms.get(word, word)
            tokens.append((stemmer(word), self._means(word)))
        return tokens

    def _means(self, word: str) -> bool:
        """Numbers and the common words of words.yaml say nothing about what a message is about."""
        return word not in self._vocabulary.ignore and not word.isdigit()

    def _node_words(self, node: ScriptNode) -> Iterable[str]:
        for text in (*node.phrases, *node.keywords):
            yield from words(text)

    def _node_terms(self, node: ScriptNode) -> Iterable[tuple[str, float]]:
        if not (node.phrases or node.keywords):
            return
        for text, weight in [(p, 1.0) for p in node.phrases] + [(node.title, TITLE_WEIGHT)]:
            tokens = self._tokens(text)
            yield from ((term, weight) for term, means in tokens if means)
            yield from ((pair, weight * PAIR_WEIGHT) for pair in _pairs(tokens, common=0))
        for keyword in node.keywords:
            tokens = self._tokens(keyword)
            if len(tokens) == 1:
                yield from ((term, KEYWORD_WEIGHT) for term, means in tokens if means)
                continue
            # A keyword of several words is meant as a whole: only its pairs count, with as many
            # common words as it takes to make one ("åpent i helgen", "vet ikke", "bare for").
            common = 2 - min(sum(means for _, means in tokens), 2)
            yield from ((pair, KEYWORD_WEIGHT * PAIR_WEIGHT) for pair in _pairs(tokens, common))


def _pairs(tokens: list[tuple[str, bool]], common: int = 2) -> set[str]:
    """Neighbouring words as one term, in either order: meaningful words with the common ones
    between them skipped, and words side by side with at most `common` common words in the pair.
    """
    meaningful = [term for term, means in tokens if means]
    pairs = {_pair(a, b) for a, b in pairwise(meaningful)}
    pairs |= {
        _pair(a, b) for (a, a_means), (b, b_means) in pairwise(tokens) if 2 - a_means - b_means <= common
    }
    return pairs


def _pair(a: str, b: str) -> str:
    return f"{a} {b}" if a <= b else f"{b} {a}"
