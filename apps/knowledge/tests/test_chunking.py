"""chunk_text: sections, paragraph packing, long paragraphs, overlap, and awkward input."""

from __future__ import annotations

import itertools
import random

import pytest

from apps.knowledge.chunking import Chunk, chunk_text, first_heading, split_sections


def sentences(count: int, word: str = "alpha") -> str:
    return " ".join(f"{word.capitalize()} sentence {i} is here." for i in range(count))


def shared_text(previous: str, current: str) -> str:
    """The longest start of ``current`` that ``previous`` ends with."""
    return next((current[:k] for k in range(len(current), 0, -1) if previous.endswith(current[:k])), "")


def test_it_returns_nothing_for_empty_input() -> None:
    assert chunk_text("") == []
    assert chunk_text("   \n\n\t\n") == []
    assert chunk_text("# Only a heading\n\n## And another") == []


def test_it_keeps_a_short_text_in_one_chunk() -> None:
    assert chunk_text("Hello world.\n\nSecond paragraph.") == [
        Chunk(index=0, text="Hello world.\n\nSecond paragraph.", heading="")
    ]


def test_it_splits_on_headings_and_records_the_heading_path() -> None:
    text = (
        "Intro before any heading.\n\n"
        "# Backups\n\nNightly at two.\n\n"
        "## Restore\n\nUse pg_restore.\n\n"
        "### Drill ###\n\nWeekly.\n\n"
        "## Retention\n\nThirty days.\n\n"
        "# Monitoring\n\nPrometheus."
    )

    chunks = chunk_text(text)

    assert [(c.heading, c.text) for c in chunks] == [
        ("", "Intro before any heading."),
        ("Backups", "Nightly at two."),
        ("Backups > Restore", "Use pg_restore."),
        ("Backups > Restore > Drill", "Weekly."),
        ("Backups > Retention", "Thirty days."),
        ("Monitoring", "Prometheus."),
    ]
    assert [c.index for c in chunks] == list(range(6))


def test_it_does_not_repeat_the_heading_line_in_the_text() -> None:
    chunks = chunk_text("## Redis eviction\n\nvolatile-lru evicts keys with a TTL.")

    assert chunks == [Chunk(0, "volatile-lru evicts keys with a TTL.", "Redis eviction")]


def test_it_needs_a_space_after_the_hashes() -> None:
    chunks = chunk_text("#hashtag is not a heading\n\n####### seven is too many")

    assert [c.heading for c in chunks] == [""]
    assert "#hashtag" in chunks[0].text
    assert "####### seven" in chunks[0].text


def test_it_understands_setext_headings() -> None:
    text = "Title\n=====\n\nBody one.\n\nSub\n---\n\nBody two.\n\n- item\n---\n\nAfter a rule."

    chunks = chunk_text(text)

    assert [(c.heading, c.text) for c in chunks] == [
        ("Title", "Body one."),
        # "- item" is a list item, so the dashes under it are no heading underline.
        ("Title > Sub", "Body two.\n\n- item\n---\n\nAfter a rule."),
    ]


def test_it_ignores_hashes_inside_code_fences() -> None:
    text = (
        "# Shell\n\n"
        "Run this:\n\n"
        "```bash\n# not a heading\necho hi\n\n## still code\n```\n\n"
        "~~~\n# tilde fence\n~~~\n\n"
        "## Next\n\nAfter."
    )

    chunks = chunk_text(text)

    assert [c.heading for c in chunks] == ["Shell", "Shell > Next"]
    assert "# not a heading\necho hi\n\n## still code\n```" in chunks[0].text
    assert "# tilde fence" in chunks[0].text


def test_it_keeps_an_unclosed_fence_as_code_to_the_end() -> None:
    chunks = chunk_text("# A\n\n```\n# inside\n\n# still inside")

    assert [c.heading for c in chunks] == ["A"]
    assert chunks[0].text.endswith("# still inside")


def test_it_packs_whole_paragraphs_up_to_max_chars() -> None:
    paragraphs = [f"Paragraph {i} " + "x" * 80 for i in range(10)]  # 92 or 93 chars each

    chunks = chunk_text("\n\n".join(paragraphs), max_chars=300, overlap_chars=0)

    assert all(len(c.text) <= 300 for c in chunks)
    # Three paragraphs (3 * 92 + 2 * 2 = 280) fit, four do not; none is cut.
    assert [c.text.count("Paragraph") for c in chunks] == [3, 3, 3, 1]
    assert "\n\n".join(c.text for c in chunks) == "\n\n".join(paragraphs)


def test_it_overlaps_consecutive_chunks_by_trailing_paragraphs() -> None:
    paragraphs = [f"P{i} " + "y" * 60 for i in range(8)]  # 63 chars each

    chunks = chunk_text("\n\n".join(paragraphs), max_chars=200, overlap_chars=70)

    assert all(len(c.text) <= 200 for c in chunks)
    for previous, current in itertools.pairwise(chunks):
        last_paragraph = previous.text.split("\n\n")[-1]
        assert current.text.startswith(last_paragraph + "\n\n")
    assert chunks[-1].text.endswith(paragraphs[-1])


def test_it_overlaps_with_trailing_sentences_when_a_paragraph_is_too_long_to_carry() -> None:
    first = "Short opener."
    second = "This paragraph is fairly long and sits at the end. It ends with a short sentence."
    third = "z" * 150

    chunks = chunk_text(f"{first}\n\n{second}\n\n{third}", max_chars=200, overlap_chars=40)

    assert chunks[0].text == f"{first}\n\n{second}"
    assert chunks[1].text == f"It ends with a short sentence.\n\n{third}"


def test_it_does_not_overlap_when_asked_not_to() -> None:
    paragraphs = [f"P{i} " + "y" * 60 for i in range(8)]

    chunks = chunk_text("\n\n".join(paragraphs), max_chars=200, overlap_chars=0)

    assert "\n\n".join(c.text for c in chunks) == "\n\n".join(paragraphs)


def test_it_never_overlaps_across_a_heading() -> None:
    text = "# One\n\n" + "\n\n".join(["a" * 90] * 3) + "\n\n# Two\n\n" + "b" * 90

    chunks = chunk_text(text, max_chars=200, overlap_chars=100)

    assert [c.heading for c in chunks] == ["One", "One", "Two"]
    assert chunks[-1].text == "b" * 90


def test_it_splits_a_long_paragraph_at_sentence_ends() -> None:
    paragraph = sentences(40)  # about 1,100 characters, one paragraph

    chunks = chunk_text(paragraph, max_chars=300, overlap_chars=0)

    assert len(chunks) > 3
    assert all(len(c.text) <= 300 for c in chunks)
    assert all(c.text.startswith("Alpha sentence") and c.text.endswith("is here.") for c in chunks)
    assert " ".join(c.text for c in chunks) == paragraph


def test_it_overlaps_sentences_of_a_long_paragraph() -> None:
    chunks = chunk_text(sentences(40), max_chars=300, overlap_chars=60)

    assert len(chunks) > 4
    for previous, current in itertools.pairwise(chunks):
        overlap = shared_text(previous.text, current.text)
        # Whole sentences only, up to the 60 characters allowed.
        assert overlap.startswith("Alpha sentence")
        assert overlap.endswith("is here.")
        assert len(overlap) <= 60
        assert len(current.text) <= 300


def test_it_hard_splits_text_without_any_boundary() -> None:
    blob = "0123456789" * 50  # 500 characters, no space, no full stop

    chunks = chunk_text(blob, max_chars=120, overlap_chars=0)

    assert [len(c.text) for c in chunks] == [120, 120, 120, 120, 20]
    assert "".join(c.text for c in chunks) == blob


def test_it_splits_long_lines_of_code_at_line_ends_before_anywhere() -> None:
    code = "\n".join(f"line_{i} = compute({i})" for i in range(60))

    chunks = chunk_text(code, max_chars=200, overlap_chars=0)

    assert all(len(c.text) <= 200 for c in chunks)
    assert all(c.text.startswith("line_") and c.text.endswith(")") for c in chunks)
    assert "\n".join(c.text for c in chunks) == code


def test_it_handles_crlf_and_old_mac_newlines() -> None:
    crlf = "# Title\r\n\r\nFirst line\r\nsecond line\r\n\r\nNext paragraph\r\n"
    cr = crlf.replace("\r\n", "\r")

    expected = [Chunk(0, "First line\nsecond line\n\nNext paragraph", "Title")]
    assert chunk_text(crlf) == expected
    assert chunk_text(cr) == expected


def test_it_handles_unicode_text() -> None:
    text = "\ufeff# Überblick 🚀\n\nDie Größe zählt… Ja! 東京は大きい。大阪も大きい。\n\n## 한국어\n\n안녕하세요 세계."

    chunks = chunk_text(text)

    assert [(c.heading, c.text) for c in chunks] == [
        ("Überblick 🚀", "Die Größe zählt… Ja! 東京は大きい。大阪も大きい。"),
        ("Überblick 🚀 > 한국어", "안녕하세요 세계."),
    ]


def test_it_splits_cjk_sentences_without_spaces() -> None:
    paragraph = "これは長い文章です。" * 30  # 300 characters, no spaces

    chunks = chunk_text(paragraph, max_chars=100, overlap_chars=0)

    assert all(len(c.text) <= 100 and c.text.endswith("。") for c in chunks)
    assert "".join(c.text for c in chunks) == paragraph


def test_every_chunk_is_stripped_non_empty_and_within_the_limit() -> None:
    text = (
        "   leading spaces\n\n\n\n"
        "# H\n\n   \n\n"
        "    indented code line\n\n"
        + sentences(30, "beta")
        + "\n\n"
        + "word " * 300
        + "\n\n## Empty\n\n## Last\n\nend  "
    )

    chunks = chunk_text(text, max_chars=250, overlap_chars=80)

    assert chunks
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.text == chunk.text.strip() != ""
        assert len(chunk.text) <= 250
    assert "Empty" not in {c.heading.rsplit(" > ", 1)[-1] for c in chunks}  # no body, no chunk
    assert chunks[-1] == Chunk(len(chunks) - 1, "end", "H > Last")


def test_it_is_deterministic() -> None:
    text = "# A\n\n" + sentences(50) + "\n\n## B\n\n" + "\n\n".join(sentences(3, "gamma") for _ in range(10))

    assert chunk_text(text, max_chars=280, overlap_chars=90) == chunk_text(text, max_chars=280, overlap_chars=90)


@pytest.mark.parametrize(("max_chars", "overlap_chars"), [(0, 0), (100, 100), (100, -1)])
def test_it_rejects_impossible_sizes(max_chars: int, overlap_chars: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        chunk_text("text", max_chars=max_chars, overlap_chars=overlap_chars)


def test_it_finds_the_first_heading() -> None:
    assert first_heading("intro\n\n```\n# code\n```\n\n#\n\n## Real one ##\n\n# Later") == "Real one"
    assert first_heading("no headings at all") == ""
    assert [s.title for s in split_sections("a\n# B\nb")] == ["", "B"]


@pytest.mark.parametrize("seed", range(20))
def test_it_keeps_its_rules_on_random_documents(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311  (reproducible test data, not secrets)
    vocabulary = ["alpha", "beta.", "gamma!", "delta?", "x" * 90, "é", "東京。", "end.\n", "-", "`code`"]
    blocks = []
    for _ in range(rng.randint(1, 30)):
        if rng.random() < 0.2:
            blocks.append("#" * rng.randint(1, 4) + " Heading " + str(rng.randint(0, 9)))
        else:
            blocks.append(" ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 120))))
    text = "\n\n".join(blocks)
    max_chars = rng.randint(60, 400)

    chunks = chunk_text(text, max_chars=max_chars, overlap_chars=0)
    overlapping = chunk_text(text, max_chars=max_chars, overlap_chars=max_chars // 3)

    for result in (chunks, overlapping):
        assert [c.index for c in result] == list(range(len(result)))
        for chunk in result:
            assert chunk.text == chunk.text.strip() != ""
            assert len(chunk.text) <= max_chars
    # Without overlap, nothing but the heading lines is lost or repeated (up to whitespace
    # and the places where an over-long word was cut).
    body = "".join("".join(b.split()) for b in blocks if not b.startswith("#"))
    assert "".join("".join(c.text.split()) for c in chunks) == body
