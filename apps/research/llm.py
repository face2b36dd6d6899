"""The language models that write a run's summary: Anthropic or OpenAI, through their SDKs.

``LLM_PROVIDER`` chooses (empty: Anthropic when ``ANTHROPIC_API_KEY`` is set, else OpenAI when
``OPENAI_API_KEY`` is set, else no model: the run writes an extractive summary). SDK errors
are sorted into two kinds: ``TransientLLMError`` (unreachable, timed out, rate limited, 5xx)
is worth retrying; ``PermanentLLMError`` (bad key, bad request, unknown model) is not.
The SDKs' own retries are off: the Celery task retries, with backoff, visible in the job list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps.research.choices import SummaryMethod

ANTHROPIC = "anthropic"
OPENAI = "openai"
EXTRACTIVE = "extractive"
DEFAULT_MODELS = {ANTHROPIC: "claude-sonnet-5-5", OPENAI: "gpt-5.4-mini"}
METHODS = {
    ANTHROPIC: SummaryMethod.LLM_ANTHROPIC,
    OPENAI: SummaryMethod.LLM_OPENAI,
    EXTRACTIVE: SummaryMethod.EXTRACTIVE,
}

SYSTEM_PROMPT = (
    "You are a research assistant for a software engineering team. Answer the research question "
    "using only the evidence given: the technology record, the repositories and the knowledge-base "
    "passages. Write Markdown without a top-level heading: a short answer first, then findings as "
    "bullet points, then risks or open questions, then a recommendation. Cite evidence by its "
    "number in square brackets, e.g. [2]. If the evidence does not answer the question, say so."
)


class LLMError(Exception):
    """A language model call that did not give a summary."""


class TransientLLMError(LLMError):
    """Unreachable, timed out, rate limited or a server error: try again later."""


class PermanentLLMError(LLMError):
    """Refused for a reason a retry cannot fix (key, request, model)."""


@dataclass(frozen=True)
class Summary:
    text: str
    method: str
    model: str


def provider() -> str:
    """The configured provider: ``anthropic``, ``openai`` or ``extractive``."""
    chosen = str(settings.LLM_PROVIDER or "").strip().lower()
    if chosen:
        return chosen
    if settings.ANTHROPIC_API_KEY:
        return ANTHROPIC
    if settings.OPENAI_API_KEY:
        return OPENAI
    return EXTRACTIVE


def model_name(chosen: str | None = None) -> str:
    chosen = chosen or provider()
    return str(settings.LLM_MODEL) or DEFAULT_MODELS.get(chosen, "")


def method(chosen: str | None = None) -> str:
    return str(METHODS[chosen or provider()])


def _classify(exc: Exception, sdk: Any) -> LLMError:
    """Map an SDK exception to transient or permanent, keeping the provider's message."""
    transient = (sdk.APIConnectionError, sdk.RateLimitError, sdk.InternalServerError)
    status = getattr(exc, "status_code", None)
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, transient) or (isinstance(exc, sdk.APIStatusError) and status in (408, 409, 429)):
        return TransientLLMError(detail)
    if isinstance(exc, sdk.APIStatusError) and status is not None and status >= 500:
        return TransientLLMError(detail)
    return PermanentLLMError(detail)


def _anthropic_client() -> Any:
    import anthropic

    if not settings.ANTHROPIC_API_KEY:
        raise PermanentLLMError("LLM_PROVIDER=anthropic needs ANTHROPIC_API_KEY")
    return anthropic.Anthropic(
        api_key=settings.ANTHROPIC_API_KEY,
        base_url=settings.ANTHROPIC_BASE_URL or None,
        timeout=float(settings.LLM_TIMEOUT),
        max_retries=0,
    )


def _openai_client() -> Any:
    import openai

    if not settings.OPENAI_API_KEY:
        raise PermanentLLMError("LLM_PROVIDER=openai needs OPENAI_API_KEY")
    return openai.OpenAI(
        api_key=settings.OPENAI_API_KEY,
        base_url=settings.OPENAI_BASE_URL or None,
        timeout=float(settings.LLM_TIMEOUT),
        max_retries=0,
    )


def _anthropic(system: str, prompt: str, model: str) -> str:
    import anthropic

    client = _anthropic_client()
    try:
        message = client.messages.create(
            model=model,
            max_tokens=int(settings.LLM_MAX_TOKENS),
            system=system,
            messages=[{"role": "user", "content": prompt}],
        )
    except anthropic.AnthropicError as exc:
        raise _classify(exc, anthropic) from exc
    finally:
        client.close()
    text = "".join(block.text for block in message.content if isinstance(block, anthropic.types.TextBlock)).strip()
    if not text:
        raise PermanentLLMError(f"the model answered without text (stop reason: {message.stop_reason})")
    return text


def _openai(system: str, prompt: str, model: str) -> str:
    import openai

    client = _openai_client()
    try:
        completion = client.chat.completions.create(
            model=model,
            max_completion_tokens=int(settings.LLM_MAX_TOKENS),
            messages=[{"role": "system", "content": system}, {"role": "user", "content": prompt}],
        )
    except openai.OpenAIError as exc:
        raise _classify(exc, openai) from exc
    finally:
        client.close()
    if not completion.choices:
        raise PermanentLLMError("the model answered without a choice")
    text = (completion.choices[0].message.content or "").strip()
    if not text:
        raise PermanentLLMError(
            f"the model answered without text (finish reason: {completion.choices[0].finish_reason})"
        )
    return text


def summarize(prompt: str, *, system: str = SYSTEM_PROMPT) -> Summary:
    """The configured model's summary of ``prompt``; only for an LLM provider (not extractive)."""
    chosen = provider()
    model = model_name(chosen)
    if chosen == ANTHROPIC:
        return Summary(_anthropic(system, prompt, model), method(chosen), model)
    if chosen == OPENAI:
        return Summary(_openai(system, prompt, model), method(chosen), model)
    raise PermanentLLMError(f"no language model provider configured (LLM_PROVIDER={chosen!r})")


def check_model() -> str:
    """Look the configured model up with the configured key (no tokens spent): the model's id.

    Raises ``LLMError`` when the provider refuses (key, unknown model) or cannot be reached.
    """
    chosen = provider()
    model = model_name(chosen)
    sdk: Any
    if chosen == ANTHROPIC:
        import anthropic

        client, sdk = _anthropic_client(), anthropic
    elif chosen == OPENAI:
        import openai

        client, sdk = _openai_client(), openai
    else:
        raise PermanentLLMError(f"no language model provider configured (LLM_PROVIDER={chosen!r})")
    try:
        return str(client.models.retrieve(model).id)
    except sdk.APIError as exc:
        raise _classify(exc, sdk) from exc
    finally:
        client.close()
