"""The staff tools speak Bokmål by default and English on request, from the `staff` catalogue."""

from __future__ import annotations

import ast
import json
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from pydantic import ValidationError

from bot.cli import COMMANDS, main
from bot.settings import ServeSettings, describe_settings_error
from bot.staff.preview.words import SCRIPT_COUNTED, SCRIPT_WORDS, page_html
from bot.staff_words import STAFF_LANGUAGES, say, speaking, staff_language, words_in
from tests.conftest import LOCALES, ROOT

KEYWORDS = {"say": None, "say_n": (1, 2), "marked": None}  # as README's pybabel extract -k says


def extracted() -> set[str | tuple[str, str]]:
    """The msgids `pybabel extract -F babel-staff.cfg --no-default-keywords -k …` finds in bot/."""
    found: set[str | tuple[str, str]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT / "bot"), method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else (str(message[0]), str(message[1])))
    return found


def fields(text: str) -> list[str]:
    """The {placeholders} of a message with their conversions and formats, as str.format reads them."""
    return sorted(f"{name}!{conv}:{spec}" for _, name, spec, conv in string.Formatter().parse(text) if name)


def test_the_template_is_up_to_date() -> None:
    with (LOCALES / "staff.pot").open("rb") as pot:
        template = {m.id for m in read_po(pot) if m.id}
    assert template == extracted(), "run the staff `pybabel extract` of README"


def test_no_formatted_strings_are_said() -> None:
    """say(f"…") or say("…" + x) would never match the catalogue: the values go in as {placeholders}."""
    offenders = []
    for path in (ROOT / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and (
                    (isinstance(node.func, ast.Name) and node.func.id in KEYWORDS)
                    or (isinstance(node.func, ast.Attribute) and node.func.attr in KEYWORDS)  # words.say(…)
                )
                and node.args
                and isinstance(node.args[0], ast.JoinedStr | ast.BinOp)
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


@pytest.mark.parametrize("lang", STAFF_LANGUAGES)
def test_the_catalogue_says_everything_with_the_same_placeholders(lang: str) -> None:
    with (LOCALES / lang / "LC_MESSAGES" / "staff.po").open("rb") as po:
        catalog = read_po(po, locale=lang)
    translated = {m.id: m for m in catalog if m.id}
    assert sorted(map(str, extracted() - set(translated))) == [], (
        f"translate the new staff messages for {lang}"
    )
    for msgid, message in translated.items():
        assert not message.fuzzy, f"{lang}: {msgid!r} is fuzzy"
        pairs = (
            zip(msgid, message.string, strict=True) if isinstance(msgid, tuple) else [(msgid, message.string)]
        )
        for source, said in pairs:
            assert isinstance(said, str) and said.strip(), f"{lang}: {msgid!r} untranslated"
            assert fields(said) == fields(source), f"{lang}: placeholders of {msgid!r}"


@pytest.mark.parametrize(
    ("environment", "flag", "expected"),
    [
        ({}, None, "nb"),
        ({"LANG": "C.UTF-8"}, None, "nb"),
        ({"LANG": "nb_NO.UTF-8"}, None, "nb"),
        ({"LANG": "nn_NO.UTF-8"}, None, "nn"),
        ({"LANG": "no_NO.UTF-8"}, None, "nb"),
        ({"LANG": "en_GB.UTF-8"}, None, "en"),
        ({"LANG": "en_US.UTF-8", "LC_ALL": "nb_NO.UTF-8"}, None, "nb"),
        ({"LANG": "nb_NO.UTF-8", "LC_MESSAGES": "en_US.UTF-8"}, None, "en"),
        ({"LANG": "en_US.UTF-8"}, "nb", "nb"),
        ({}, "en", "en"),
    ],
)
def test_the_language_comes_from_the_flag_else_the_locale(
    environment: dict[str, str], flag: str | None, expected: str
) -> None:
    assert staff_language(flag, environment) == expected


def test_outside_the_command_line_the_words_are_the_english_msgids() -> None:
    assert say("there is no node `{target}`", target="x") == "there is no node `x`"
    with speaking("nb", LOCALES):
        assert say("there is no node `{target}`", target="x") == "det finnes ingen node `x`"
    assert say("there is no node `{target}`", target="x") == "there is no node `x`"


def test_words_in_a_language_do_not_follow_the_spoken_one() -> None:
    with speaking("en", LOCALES):
        assert words_in("nn", LOCALES).say("off") == "av"
        assert words_in("nb", LOCALES).say("Kind of actor: {kind}", kind="x") == "Type aktør: x"
    assert say("off") == "off"  # asking for a language switched nothing


def test_words_in_a_language_without_a_catalogue_are_the_english_msgids(tmp_path: Path) -> None:
    words = words_in("nb", tmp_path)
    assert (words.lang, words.say("off")) == ("en", "off")
    assert words.say_n("{count} warning", "{count} warnings", 2) == "2 warnings"


def broken(folder: Path) -> Path:
    telefon = folder / "nb" / "telefon.yaml"
    text = telefon.read_text(encoding="utf-8")
    telefon.write_text(text.replace("goto: telefon_samtalen", "goto: telefon_samtal", 1), encoding="utf-8")
    return telefon


def check_output(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main([*args]) == 1
    return capsys.readouterr().out


def test_check_speaks_bokmal_by_default(dialogues_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken(dialogues_copy)
    shown = check_output(capsys, "check", "--dialogues", str(dialogues_copy))
    assert "dialogues/nb/telefon.yaml:19: feil: det finnes ingen node `telefon_samtal`\n" in shown
    assert "    slik retter du det: mente du `telefon_samtalen`?\n" in shown
    assert "advarsel: nn-oversettelsen av `telefon` har andre knapper enn bokmålsnoden" in shown
    assert shown.endswith(
        "\n1 feil, 2 advarsler. Ingenting ble endret; rett linjene over og kjør `balansebot check` igjen.\n"
    )


@pytest.mark.parametrize("how", ["LANG", "--lang"])
def test_check_speaks_english_when_asked(
    how: str, dialogues_copy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    broken(dialogues_copy)
    if how == "LANG":
        monkeypatch.setenv("LANG", "en_US.UTF-8")
    args = ["--lang", "en"] if how == "--lang" else []
    shown = check_output(capsys, *args, "check", "--dialogues", str(dialogues_copy))
    assert "dialogues/nb/telefon.yaml:19: error: there is no node `telefon_samtal`\n" in shown
    assert "    fix: did you mean `telefon_samtalen`?\n" in shown
    assert shown.endswith(
        "\n1 error, 2 warnings. Nothing was changed; fix the lines above and run `balansebot check` again.\n"
    )


def test_a_yaml_mistake_is_told_in_bokmal_with_its_line_and_caret(
    dialogues_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    om = dialogues_copy / "nb" / "om.yaml"
    text = om.read_text(encoding="utf-8")
    om.write_text(text.replace("    title: ", '    title: "', 1), encoding="utf-8")
    shown = check_output(capsys, "check", "--dialogues", str(dialogues_copy))
    line = next(n for n, t in enumerate(om.read_text(encoding="utf-8").splitlines(), 1) if 'title: "' in t)
    assert (
        f'dialogues/nb/om.yaml:{line}: feil: teksten som begynner med " her, har ingen avsluttende "\n'
        in shown
    )
    assert re.search(r"\n {4}4 \| {5}title: \"Om.*\n {6}\| {12}\^\n", shown), "the caret under the quote"
    assert 'slik retter du det: avslutt teksten med " på samme linje, eller fjern " i starten.' in shown


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_commands_help_is_in_bokmal(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([name, "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"bruk: balansebot {name} [-h]")
    with speaking("nb", LOCALES):
        description = say(COMMANDS[name][0])
    assert description != COMMANDS[name][0]
    assert shown.split("\n\n")[1].replace("\n", " ") == description
    assert "  -h, --help" in shown and "vis denne hjelpen og avslutt" in shown
    assert "\navslutningskoder:\n  0  " in shown


def test_a_wrong_command_line_is_told_in_bokmal(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["check", "--strickt"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith("balansebot: feil: ")


def test_translations_speak_bokmal(
    dialogues_copy: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEPT_SCRIPTS_DIR", str(tmp_path / "kept"))
    telefon = dialogues_copy / "nb" / "telefon.yaml"
    telefon.write_text(telefon.read_text(encoding="utf-8").replace("Rådgivningstelefonen\n", "Ring oss\n", 1))
    assert main(["translations", "--dialogues", str(dialogues_copy)]) == 1
    shown = capsys.readouterr().out
    assert "`telefon` ble oversatt fra en eldre bokmålstekst (47a0c787 → " in shown
    assert (
        "Hva bokmålen sa den gang, vet vi ikke: ingen lagret versjon har fingeravtrykket 47a0c787." in shown
    )
    assert "    når den er ferdig: balansebot translations --done nn telefon\n" in shown
    assert shown.endswith("2 oversettelser å gjøre (språk utenom bokmål: en, nn).\n")


@pytest.mark.parametrize(
    ("args", "bokmal", "english"),
    [
        (
            ["check", "--strickt"],
            "balansebot: feil: ukjente argumenter: --strickt",
            "balansebot: error: unrecognized arguments: --strickt",
        ),
        (
            ["--lang", "xx", "check"],
            "balansebot: feil: argument --lang: ugyldig valg: 'xx' (velg blant 'nb', 'nn', 'en')",
            "balansebot: error: argument --lang: invalid choice: 'xx' (choose from 'nb', 'nn', 'en')",
        ),
        (
            ["graph"],
            "balansebot graph: feil: disse argumentene må være med: -o/--output",
            "balansebot graph: error: the following arguments are required: -o/--output",
        ),
        (
            ["preview", "--port", "x"],
            "balansebot preview: feil: argument --port: ugyldig int-verdi: 'x'",
            "balansebot preview: error: argument --port: invalid int value: 'x'",
        ),
    ],
)
def test_argparse_says_what_is_wrong_in_the_staff_language(
    args: list[str],
    bokmal: str,
    english: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for language, expected in (("C.UTF-8", bokmal), ("en_GB.UTF-8", english)):
        monkeypatch.setenv("LANG", language)
        with pytest.raises(SystemExit) as exited:
            main(args)
        assert exited.value.code == 2
        assert capsys.readouterr().err.splitlines()[-1] == expected


def test_settings_errors_are_told_in_the_staff_language(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    monkeypatch.setenv("DATABASE_URL", "mysql://x")
    assert main(["migrate"]) == 2
    assert (
        capsys.readouterr().err
        == "balansebot migrate: DATABASE_URL må være en sqlite:///- eller postgresql://-URL\n"
    )
    assert main(["--lang", "en", "migrate"]) == 2
    assert (
        capsys.readouterr().err
        == "balansebot migrate: DATABASE_URL must be an sqlite:/// or postgresql:// URL\n"
    )
    # pydantic's own complaints too, by their kind.
    monkeypatch.delenv("DATABASE_URL")
    assert main(["preview", "--port", "0", "--dialogues", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "balansebot preview: PORT må være minst 1\n"
    assert main(["--lang", "en", "preview", "--port", "0", "--dialogues", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "balansebot preview: PORT must be at least 1\n"


PREVIEW_STATIC = ROOT / "bot" / "staff" / "preview" / "static"


def served_words(page: str) -> dict[str, object]:
    """The words preview.js reads, from the JSON block of the served page."""
    block = re.search(r'<script type="application/json" id="words">(.*?)</script>', page, re.DOTALL)
    assert block is not None
    words: dict[str, object] = json.loads(block.group(1))
    return words


@pytest.mark.parametrize(
    ("lang", "placeholder", "warnings", "jumped"),
    [
        (
            "nb",
            "Skriv et spørsmål, eller /start",
            ["{count} advarsel fra check", "{count} advarsler fra check"],
            "Hoppet til {node} fra flytskjemaet.",
        ),
        (
            "nn",
            "Skriv eit spørsmål, eller /start",
            ["{count} åtvaring frå check", "{count} åtvaringar frå check"],
            "Hoppa til {node} frå flytskjemaet.",
        ),
        (
            "en",
            "Write a question, or /start",
            ["{count} warning from check", "{count} warnings from check"],
            "Jumped to {node} from the flow chart.",
        ),
    ],
)
def test_the_preview_page_speaks_the_staff_language(
    lang: str, placeholder: str, warnings: list[str], jumped: str
) -> None:
    with speaking(lang, LOCALES):
        page = page_html(PREVIEW_STATIC / "index.html", [("nb", "Norsk bokmål")])
    assert "{{" not in page
    assert f'placeholder="{placeholder}"' in page
    assert f'<header class="top" lang="{lang}">' in page
    assert '<html lang="nb">' in page, "the chat's language is the page's own, apart from the staff's"
    words = served_words(page)
    assert words["lang"] == lang
    assert words["warnings"] == warnings
    assert words["jumped"] == jumped


def test_preview_js_says_only_words_the_page_is_given() -> None:
    script = (PREVIEW_STATIC / "preview.js").read_text(encoding="utf-8")
    said = set(re.findall(r'\bsay\("(\w+)"', script)) | set(re.findall(r'\bsayCount\("(\w+)"', script))
    assert said == set(SCRIPT_WORDS) | set(SCRIPT_COUNTED)
    with speaking("nb", LOCALES):
        words = served_words(page_html(PREVIEW_STATIC / "index.html", [("nb", "Norsk bokmål")]))
    for name, message in SCRIPT_WORDS.items():
        assert words[name] != message, f"{name} has no Bokmål"


@pytest.mark.parametrize("how", ["LANG", "--lang"])
def test_check_speaks_nynorsk_when_asked(
    how: str, dialogues_copy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    broken(dialogues_copy)
    if how == "LANG":
        monkeypatch.setenv("LANG", "nn_NO.UTF-8")
    args = ["--lang", "nn"] if how == "--lang" else []
    shown = check_output(capsys, *args, "check", "--dialogues", str(dialogues_copy))
    assert "dialogues/nb/telefon.yaml:19: feil: det finst ingen node `telefon_samtal`\n" in shown
    assert "    slik rettar du det: meinte du `telefon_samtalen`?\n" in shown
    assert "åtvaring: nn-omsetjinga av `telefon` har andre knappar enn bokmålsnoden" in shown
    assert shown.endswith(
        "\n1 feil, 2 åtvaringar. Ingenting vart endra; rett linjene over og køyr `balansebot check` igjen.\n"
    )


def test_help_and_command_line_mistakes_in_nynorsk(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "nn_NO.UTF-8")
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    shown = capsys.readouterr().out
    assert shown.startswith("bruk: balansebot check [-h]")
    assert "vis denne hjelpa og avslutt" in shown and "\navsluttingskodar:\n  0  manusa kan brukast" in shown
    with pytest.raises(SystemExit):
        main(["check", "--strickt"])
    assert capsys.readouterr().err.splitlines()[-1] == "balansebot: feil: ukjende argument: --strickt"


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "nb",
            "PORT må være et heltall; LOG_LEVEL må være en av 'DEBUG', 'INFO', 'WARNING' eller 'ERROR'; "
            "JSON_LOGS må være true eller false",
        ),
        (
            "nn",
            "PORT må vere eit heiltal; LOG_LEVEL må vere ein av 'DEBUG', 'INFO', 'WARNING' eller 'ERROR'; "
            "JSON_LOGS må vere true eller false",
        ),
        (
            "en",
            "PORT must be a whole number; LOG_LEVEL must be one of 'DEBUG', 'INFO', 'WARNING' or 'ERROR'; "
            "JSON_LOGS must be true or false",
        ),
    ],
)
def test_pydantics_own_complaints_are_said_in_the_staff_language(
    lang: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {"PORT": "abc", "LOG_LEVEL": "x", "JSON_LOGS": "maybe"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BOT_TOKEN", "123456789:" + "A" * 35)
    monkeypatch.setenv("PSEUDONYM_KEY", "k" * 40)
    with speaking(lang, LOCALES), pytest.raises(ValidationError) as refused:
        ServeSettings(_env_file=None)  # type: ignore[call-arg]
    with speaking(lang, LOCALES):
        assert describe_settings_error(refused.value) == expected
