"""The translations (issue 29): in step with the English, complete where they say so, true to the
glossary, and a translated exercise graded exactly like the English one.

- The catalogs in ``locales/<code>/LC_MESSAGES/`` hold every message the English pages and the
  exercises have now (extracted afresh here, as ``make translations`` does), and no catalog is
  left for a page that is gone: an English edit lands with ``make translations``.
- Every page listed under ``translated`` in ``locales/languages.yml`` has every message
  translated and none fuzzy; its translations keep the message's formulas, inline code,
  references and glued values as they are, and use the glossary's Chinese
  (``chapters/glossary.csv``: the ``chinese`` column or its ``variants``) wherever the English
  uses a term that has one meaning (``AMBIGUOUS`` lists the others).
- A Chinese release of an exercise has the English release's cells, ids, grade ids, points and
  code, with valid checksums; graded in one gradebook with English submissions, the solution
  earns full marks and the untouched release zero, as in English.
"""
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest
from babel.messages.pofile import read_po

from .exercise_helpers import REPO, assignments, instructor, make_course, solved, submit

sys.path.insert(0, str(REPO / "tools"))
from book_i18n import LOCALES, SOURCE_LANGUAGE, chinese_terms, glossary, read_languages, translations  # noqa: E402
from exercise_i18n import has_words, translate  # noqa: E402

LANGUAGES = translations()
TRANSLATED = [(code, page) for code in LANGUAGES for page in read_languages()[code].get("translated", [])]

# Glossary terms and aliases whose English word has another everyday or technical meaning in the
# book, so that its Chinese depends on the sentence: not checked (a term here, its aliases too).
AMBIGUOUS = {
    "score": "an alias of attention score, but also any score (F1, a model's output)",
    "threshold": "an alias of decision threshold, but also any threshold",
    "flatten": "the layer 展平, but also a curve that flattens",
    "bias": "a layer's bias is 偏置; in statistics and fairness (chapter 10) it is 偏差 or 偏见",
    "kernel": "卷积核 in a convolution, but also the Jupyter kernel (内核)",
    "precision": "the metric 精确率, but also floating-point precision (精度)",
    "recall": "the metric 召回率, but also chapter 6's recall task",
    "compute": "算力 as a noun, but most often the verb",
    "attention": "注意力机制 and 注意力 are both right",
    "key": "an everyday word as well as attention's key",
    "value": "an everyday word as well as attention's value",
    "query": "an everyday word as well as attention's query",
    "candidate": "an everyday word as well as the LSTM's candidate",
    "student": "distillation's student model (学生模型), but also a person (学生)",
    "channel": "a tensor's channel (通道), but also a package channel (conda's -c, 频道)",
    "context": "an alias of context vector, but also any context (a language model's, a sentence's): 上下文",
    "encoder": "an alias of encoder-decoder, but alone the encoder is 编码器",
    "decoder": "an alias of encoder-decoder, but alone the decoder is 解码器",
    "activation": "an alias of activation function, but also its value (激活值, 激活函数的输出)",
    "truncated": "an alias of truncated BPTT, but also an episode cut off by a time limit (chapter 10's CartPole)",
    "clipping": "an alias of gradient clipping, but also clipping pixels to their range (chapter 10's PGD)",
    "head": "an alias of attention head, but also a classifier head (线性分类头)",
    "window": "a context window (窗口), but also the operating system Windows",
    "generator": "a GAN's generator (生成器), but also a text generator or a Python generator",
    "running mean": "an alias of running statistics, but also Adam's moving average of g² (滑动平均)",
    "running average": "an alias of running statistics, but also Adam's moving averages (滑动平均)",
    "residual": "an alias of residual connection, but also residual learning or a residual (残差)",
    "drift": "an alias of data drift, but also any quantity that drifts",
    "overlapping": "an alias of overlapping communication with computation, but also copies that overlap (chapter 8's transposed convolution)",
}

# What a translation must carry over unchanged: math, inline code, MyST roles and substitutions.
KEPT = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$|\{[\w:-]+\}`[^`]*`|`[^`\n]+`|\{\{[^}]*\}\}", re.DOTALL)
# A cross-reference with its own link text, {ref}`the limits <limits-per-student>`: the text is
# prose (translated), the target is kept.
TITLED_ROLE = re.compile(r"(\{[\w:-]+\}`)[^`<]*<([^>`]+)>`")


def kept(text: str) -> Counter:
    """The pieces of ``text`` a translation must carry over unchanged (link texts of roles aside)."""
    return Counter(TITLED_ROLE.sub(r"\1<\2>`", piece) for piece in KEPT.findall(text))


# Left out when looking for English terms: the above, links' addresses and HTML tags.
NOT_PROSE = re.compile(KEPT.pattern + r"|\]\([^)]*\)|https?://\S+|<[^>]+>", re.DOTALL)


def read_catalog(path: Path):
    with path.open("rb") as f:
        return read_po(f)


def domains(folder: Path, suffix: str) -> dict[str, Path]:
    """`chapters/01_foundations` -> its catalog (or template) under ``folder``."""
    return {str(p.relative_to(folder).with_suffix("")): p for p in folder.rglob(f"*{suffix}")
            if ".doctrees" not in p.parts}


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict[str, set[str]]:
    """The messages of the English pages and exercises as they are now: domain -> message ids."""
    pot_dir = tmp_path_factory.mktemp("gettext")
    result = subprocess.run([sys.executable, str(REPO / "tools" / "book_i18n.py"), "extract", str(pot_dir)],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    found = {domain: {m.id for m in read_catalog(path) if m.id} for domain, path in domains(pot_dir, ".pot").items()}
    assert "chapters/00_preface" in found and "exercises/ex01_foundations" in found, sorted(found)
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogs_hold_every_english_message(templates, language):
    catalogs = domains(LOCALES / language / "LC_MESSAGES", ".po")
    problems = []
    for domain, ids in sorted(templates.items()):
        if domain not in catalogs:
            problems.append(f"{domain}: no catalog")
            continue
        missing = ids - {m.id for m in read_catalog(catalogs[domain]) if m.id}
        if missing:
            problems.append(f"{domain}: {len(missing)} message(s) not in the catalog, e.g. {sorted(missing)[0][:80]!r}")
    stale = sorted(set(catalogs) - set(templates))
    if stale:
        problems.append(f"catalogs of pages that no longer exist (delete them): {stale}")
    assert not problems, "the catalogs are behind the English text: run `make translations`\n  " + "\n  ".join(problems)


def test_translated_pages_exist():
    for language, page in TRANSLATED:
        assert (LOCALES / language / "LC_MESSAGES" / f"{page}.po").exists(), f"{language}: no catalog for {page}"


def translated_messages(language: str, page: str):
    """The messages of a page that must be translated: those with words (not only math or code)."""
    return [m for m in read_catalog(LOCALES / language / "LC_MESSAGES" / f"{page}.po") if m.id and has_words(m.id)]


@pytest.mark.parametrize("language, page", TRANSLATED)
def test_every_message_is_translated(language, page):
    messages = translated_messages(language, page)
    assert messages, f"{page} has no messages"
    untranslated = [m.id for m in messages if not m.string]
    fuzzy = [m.id for m in messages if m.string and m.fuzzy]
    assert not untranslated and not fuzzy, (
        f"{language}/{page} is listed as translated in locales/languages.yml, but has "
        f"{len(untranslated)} untranslated and {len(fuzzy)} fuzzy message(s), e.g. "
        f"{(untranslated + fuzzy)[0][:120]!r}")


@pytest.mark.parametrize("language, page", TRANSLATED)
def test_translations_keep_formulas_code_and_references(language, page):
    problems = []
    for m in translated_messages(language, page):
        lost = kept(m.id) - kept(m.string)
        if m.string and lost:
            problems.append(f"{m.id[:60]!r}: the translation changes or drops {sorted(lost)[:3]}")
    assert not problems, "\n".join(problems)


def normalised(text: str) -> str:
    """Lower case, British spelling (optimizer -> optimiser), so one form matches both."""
    return re.sub(r"iz(e|ing|ation|er)", r"is\1", text.lower())


def is_name(form: str) -> bool:
    """An acronym or a name (GPU, ReLU, Adam): a translation may keep it as it is."""
    return " " not in form and any(c.isupper() for c in form)


def glossary_forms() -> list[tuple[str, dict]]:
    """(English form, its glossary row), longest first, for every unambiguous term and alias."""
    forms = []
    for row in glossary():
        if row["english"].lower() in AMBIGUOUS:
            continue
        aliases = [a.strip() for a in re.split(r"[;|]", row.get("aliases") or "") if a.strip()]
        forms += [(form, row) for form in [row["english"], *aliases] if form.lower() not in AMBIGUOUS]
    return sorted(forms, key=lambda pair: -len(pair[0]))


def term_pattern(form: str) -> re.Pattern:
    plural = r"(?:s|es)?" if form[-1].isalpha() else ""
    if is_name(form):  # case matters: "GPU", not "gpu"
        return re.compile(rf"(?<![\w-]){re.escape(form)}{plural}(?![\w-])")
    return re.compile(rf"(?<![\w-]){re.escape(normalised(form))}{plural}(?![\w-])")


def is_display_math(message: str) -> bool:
    """A display formula (``$$ ... $$`` in the page) reaches the catalog as its TeX alone, on lines
    of its own: `\\mathrm{softmax}` in it is a formula, not the word to translate."""
    return message.startswith("\n") and "$" not in message


def missing_terms(english: str, chinese: str, forms) -> list[str]:
    """The glossary terms of ``english`` whose Chinese ``chinese`` lacks."""
    if is_display_math(english):
        return []
    prose = NOT_PROSE.sub(" ", english)
    claimed, missing = [], []
    for form, row in forms:
        text = prose if is_name(form) else normalised(prose)
        for match in term_pattern(form).finditer(text):
            if any(match.start() < end and start < match.end() for start, end in claimed):
                continue  # part of a longer term ("weight" in "weight decay")
            claimed.append(match.span())
            terms, notes = chinese_terms(row)
            accepted = terms + notes + ([form] if is_name(form) else [])
            if not any(term.replace(" ", "") in chinese.replace(" ", "") for term in accepted):  # Sigmoid函数 = Sigmoid 函数
                missing.append(f"{match.group(0)!r} -> {' / '.join(terms)}")
    return missing


def test_a_cross_reference_keeps_its_target_and_may_translate_its_text():
    english = "See {ref}`the limits <limits-per-student>` and $x$."
    assert not kept(english) - kept("见{ref}`各项限制 <limits-per-student>`和 $x$。")
    assert kept(english) - kept("见{ref}`各项限制 <limits>`和 $x$。")  # the target changed
    assert kept(english) - kept("见各项限制和 $x$。")  # the reference dropped


def test_the_terminology_check_can_fail():
    forms = glossary_forms()
    assert missing_terms("Backpropagation computes the gradients.", "反向传播计算梯度。", forms) == []
    assert missing_terms("Backpropagation computes the gradients.", "逆传播计算梯度。", forms) != []
    assert missing_terms("We add weight decay.", "我们加上权重衰减。", forms) == []  # "weight" inside the longer term
    assert missing_terms("On a GPU, `gradient` is $x$.", "在 GPU 上，`gradient` 是 $x$。", forms) == []
    assert missing_terms("The optimizer", "优化器", forms) == []  # American spelling of "optimiser"
    formula = "\np = \\mathrm{softmax}(z)\n"
    assert is_display_math(formula) and missing_terms(formula, formula, forms) == []
    assert not is_display_math("The $\\mathrm{softmax}$ of $z$.")


@pytest.mark.parametrize("language, page", [(code, page) for code, page in TRANSLATED if code.startswith("zh")])
def test_translations_use_the_glossary_terms(language, page):
    forms = glossary_forms()
    problems = [f"{m.id[:70]!r}: {', '.join(missing)}" for m in translated_messages(language, page)
                if m.string and (missing := missing_terms(m.id, m.string, forms))]
    assert not problems, (f"{language}/{page}: translations without the glossary's term (chapters/glossary.csv; "
                          "add a variant there if a textbook term is right):\n  " + "\n  ".join(problems))


# ---- exercises -------------------------------------------------------------------------------

def marked(nb) -> dict[str, str]:
    """A stand-in catalog translating every instruction paragraph of ``nb`` (so a test can see it)."""
    from exercise_i18n import messages

    return {message: f"〔译〕{message}" for message, _ in messages(nb)}


def grading_view(cell) -> dict:
    meta = dict(cell.metadata.get("nbgrader", {}))
    meta.pop("checksum", None)
    return {"id": cell.get("id"), "type": cell.cell_type, "nbgrader": meta,
            "source": cell.source if cell.cell_type == "code" else None}


@pytest.mark.parametrize("assignment", assignments())
def test_a_translated_release_keeps_every_cell_but_the_instructions(assignment):
    from nbgrader.utils import compute_checksum

    english = nbformat.read(REPO / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)
    chinese = translate(english, marked(english))
    assert [grading_view(c) for c in chinese.cells] == [grading_view(c) for c in english.cells]
    for before, after in zip(english.cells, chinese.cells):
        if "checksum" in after.metadata.get("nbgrader", {}):
            assert after.metadata.nbgrader.checksum == compute_checksum(after), "stale checksum"
        if before.cell_type == "code" or before.metadata.get("nbgrader", {}).get("solution"):
            assert after == before  # code, tests and answer cells byte for byte, checksums included
    changed = [c for b, c in zip(english.cells, chinese.cells) if c.source != b.source]
    assert changed and all(c.cell_type == "markdown" for c in changed)
    assert english == nbformat.read(REPO / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)


EXERCISE = "ex01_foundations"


@pytest.fixture(scope="module")
def bilingual_class(tmp_path_factory):
    """One gradebook, English and Chinese submissions of one exercise, graded in one run."""
    course = make_course(tmp_path_factory.mktemp("bilingual"))
    result = instructor(course, "release", EXERCISE)
    assert result.returncode == 0, result.stderr
    tool = subprocess.run([sys.executable, str(REPO / "tools" / "exercise_i18n.py"), "release", EXERCISE,
                           "--course", str(course)], capture_output=True, text=True, timeout=300)
    assert tool.returncode == 0, tool.stdout + tool.stderr
    english = nbformat.read(course / "exercises" / EXERCISE / f"{EXERCISE}.ipynb", as_version=4)
    for code in LANGUAGES:  # the tool's release from the committed catalogs, beside the English one
        assert (course / f"exercises_{code}" / EXERCISE / f"{EXERCISE}.ipynb").exists()
    chinese = translate(english, marked(english))
    source = nbformat.read(course / "solutions" / EXERCISE / f"{EXERCISE}.ipynb", as_version=4)
    submit(course, "en_solution", EXERCISE, solved(english, source))
    submit(course, "en_release", EXERCISE, english)
    submit(course, "zh_solution", EXERCISE, solved(chinese, source))
    submit(course, "zh_release", EXERCISE, chinese)
    run = instructor(course, "autograde", EXERCISE, "--cell-timeout", "60")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return course, chinese, source, run


def test_a_translated_release_is_graded_like_the_english_one(bilingual_class):
    from nbgrader.api import Gradebook

    from instructor.course import Course

    course, _, _, run = bilingual_class
    with Gradebook(Course.load(course).db_url) as gradebook:
        scores = {s.student.id: (s.code_score, s.max_code_score) for s in gradebook.assignment_submissions(EXERCISE)}
    maximum = scores["en_solution"][1]
    assert maximum > 0
    assert scores["zh_solution"] == scores["en_solution"] == (maximum, maximum)
    assert scores["zh_release"] == scores["en_release"] == (0, maximum)
    assert "flagged  zh_" not in run.stdout, run.stdout  # a translated release is not "changed from the release"


def test_validate_accepts_a_translated_release(bilingual_class, tmp_path):
    """The Validate button compares each read-only cell with its checksum: the translated cells'
    checksums must match their text."""
    _, chinese, source, _ = bilingual_class
    nbformat.write(solved(chinese, source), tmp_path / "solved.ipynb")
    result = subprocess.run([sys.executable, "-m", "nbgrader", "validate", "solved.ipynb"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert "Success! Your notebook passes all the tests." in result.stdout, result.stdout + result.stderr


def test_the_source_language_is_not_a_translation():
    assert SOURCE_LANGUAGE not in LANGUAGES and LANGUAGES


def test_no_message_is_flagged_as_a_format_string():
    """msgfmt -c and Poedit reject a translation without the "%" conversions of a message flagged
    python-format; the book has no format strings, so `make translations` marks each no-."""
    flagged = [f"{path.relative_to(LOCALES)}: {line}" for path in sorted(LOCALES.rglob("*.po"))
               for line in path.read_text(encoding="utf-8").splitlines()
               if line.startswith("#, ") and {"python-format", "python-brace-format"} & {f.strip() for f in line[2:].split(",")}]
    assert not flagged, "run `make translations`:\n  " + "\n  ".join(flagged[:10])


@pytest.mark.parametrize("language, page", [(code, page) for code, page in TRANSLATED if page.startswith("chapters/")])
def test_numbered_headings_stay_headings(language, page):
    """A message "2. Backpropagation and optimization" is a heading (a list item's message has no
    marker); its translation "2. 反向传播与优化" would be read as a list and dropped, so the
    heading stayed English. Escaped, "2\\. 反向传播与优化", it is a heading."""
    lists = [m.id for m in translated_messages(language, page)
             if re.match(r"\d+\. ", m.id) and "\n" not in m.id and re.match(r"\d+[.)] ", m.string or "")]
    assert not lists, f"{language}/{page}: write the number as '2\\. ' in: {lists}"
