"""``doctor``: the language model that writes research summaries answers with the configured
key and knows the configured model (a model look-up: no tokens spent)."""

from __future__ import annotations

from commandcenter.health import FAIL, OK, CheckResult, register


@register("research_llm", doctor_only=True)
def check_llm() -> CheckResult:
    from apps.research import llm

    chosen = llm.provider()
    if chosen == llm.EXTRACTIVE:
        return CheckResult(
            OK,
            "extractive summaries, no language model (set ANTHROPIC_API_KEY or OPENAI_API_KEY to have one write them)",
        )
    try:
        model = llm.check_model()
    except llm.LLMError as exc:
        return CheckResult(FAIL, f"{chosen} {llm.model_name(chosen)}: {exc}"[:300])
    return CheckResult(OK, f"{chosen} {model} answers")
