"""preamble / commentary: the translator talking — lead-ins, translator's notes, closing offers of help.

"以下是翻译：", "翻译如下", a trailing "（注：…）" or "希望对你有帮助" that the English source does not contain
turn into training targets that teach the model to chat about translating. Each rule is excused when the
source says the same thing ("Here is the translation:", "Note:", "Hope this helps!").
"""

from __future__ import annotations

import re

from zqvl.data.clean.registry import Reason, register
from zqvl.data.clean.rules import Rule, apply_rules, rx
from zqvl.data.schema import Record

I = re.I
TRANSLATION_WORDS = rx(r"translat|original|literal|interpret|stands? for|\bmeans?\b|meaning|in (?:english|chinese)", I)
NOTE_WORDS = rx(r"\bnote\b|\bn\.\s?b\.|\bp\.\s?s\.|\bremark|\bcaution\b|\bimportant\b|\bwarning\b", I)
OFFER_WORDS = rx(
    r"\bhope\b|\bhelps?\b|let me know|feel free|\bquestions?\b|anything else|happy to|glad to|"
    r"would you like|do you want|shall i|should i",
    I,
)
# The source speaks of a text's meaning ("The phrase means: ...", "In English this says ..."); "It means you
# must yield" is about a sign, and "这段话的意思是：" before its translation is the translator framing it.
TEXT_MEANING_WORDS = rx(
    r"^(?=[\s\S]*\b(?:sentence|phrase|passage|text|wording|english|chinese|original|words?|line|quote|saying|"
    r"expression|idiom|slogan|motto|caption)\b)(?=[\s\S]*(?:\bmeans?\b|meaning|translat|\bsays?\b|\breads?\b))",
    I,
)
LEAD_WORDS = rx(
    r"^\W*(?:sure|okay|ok|of course|certainly|absolutely|here|below|alright|all right|great|yes|good|"
    r"fine|right|got it|understood|no problem|very well)\b",
    I,
)

RULES = (
    # Lead-ins that announce a translation.
    Rule(
        "preamble.lead_in",
        rx(
            r"^(?:好的|当然|没问题|以下|下面|这是|这里是|如下)[^。\n]{0,24}?"
            r"(?:翻译|译文|译本|中文版|中文内容)[^。\n]{0,8}?[：:]"
        ),
        TRANSLATION_WORDS,
        mono=True,
    ),
    Rule(
        "preamble.lead_in",
        rx(r"^(?:翻译|译文|中文翻译|中文译文|翻译结果|译)\s*[：:]|翻译如下|译文如下"),
        TRANSLATION_WORDS,
        mono=True,
    ),
    Rule(
        "preamble.lead_in",
        rx(
            r"^(?:sure[,!.]?\s*)?(?:here is|here's|below is)[^\n:]{0,40}translation"
            r"|^translation\s*:",
            I,
        ),
        TRANSLATION_WORDS,
        mono=True,
    ),
    # A lead-in about the source text itself ("这段英文的意思是：", "原文是说：").
    Rule(
        "preamble.lead_in",
        rx(r"^[^。\n]{0,16}(?:英文|英语|原文|这段话|这句话)[^。\n]{0,10}(?:意思|译为|翻译为|是说)[^。\n]{0,8}[：:]"),
        TEXT_MEANING_WORDS,  # needs the source: "这句英文的意思是：" answers "what does it mean?" faithfully
    ),
    # A chatty opener the source does not have ("好的，以下是…：").
    Rule(
        "preamble.lead_in",
        rx(r"^(?:好的|当然|当然可以|没问题|好)[，,！!。]\s*(?:以下|下面|这)是[^。\n]{0,30}[：:]"),
        LEAD_WORDS,
    ),
    Rule("preamble.lead_in", rx(r"^(?:好的|当然可以|当然|没问题)[，,！!。～~]"), LEAD_WORDS),
    # Translator's notes and meta talk about the translation itself.
    Rule(
        "preamble.note",
        rx(
            r"[（(【\[]\s*(?:注|注释|译注|译者注|编者注|说明|备注)\s*[：:][^）)】\]]*"
            r"(?:译|原文|英文|英语)"
        ),
        TRANSLATION_WORDS,
        mono=True,
    ),
    Rule(
        "preamble.note",
        rx(r"保留未译|未作翻译|未翻译|不作翻译|直译为|意译为|音译为|译者注|译注"),
        TRANSLATION_WORDS,
        mono=True,
    ),
    Rule(
        "preamble.note",
        rx(r"[（(【\[]\s*(?:注|注释|译注|说明|备注|note|n\.b\.)\s*[：:]|(?:^|\n)\s*(?:注|注释|备注)\s*[：:]", I),
        NOTE_WORDS,
    ),
    Rule("preamble.note", rx(r"翻译|译文|原文|译者|直译|意译|音译|译为|译作|译成"), TRANSLATION_WORDS),
    # Closing offers of further help.
    Rule(
        "preamble.closing",
        rx(r"(?:如需|如果需要|若需|如有需要)[^。！\n]{0,12}(?:调整|修改|润色)[^。！\n]{0,6}(?:译文|翻译)"),
        TRANSLATION_WORDS,
        mono=True,
    ),
    Rule(
        "preamble.closing",
        rx(r"(?:希望|但愿)(?:这|以上|这些|我的|此)?[^。！!\n]{0,10}?有(?:所)?帮助|希望(?:对你|对您)有用"),
        OFFER_WORDS,
    ),
    Rule(
        "preamble.closing",
        rx(
            r"(?:如(?:果|需|有)|若)[^。！\n]{0,20}?(?:请|欢迎)?随时(?:告诉|联系|告知|提问|询问)"
            r"|请随时(?:告诉|联系|告知|提问)|还有(?:什么|其他)[^。！？\n]{0,10}(?:需要|问题|可以帮)"
        ),
        OFFER_WORDS,
    ),
    Rule("preamble.closing", rx(r"(?:hope (?:this|that|it) helps|let me know if|feel free to)", I), OFFER_WORDS),
    Rule(
        "preamble.closing",
        rx(r"(?:需要|要)我(?:再|进一步|继续|帮你|帮您|为你|为您)[^。！？\n]{0,16}吗[？?]"),
        OFFER_WORDS,
    ),
)


@register("preamble", needs_source=False)
def check_preamble(record: Record, params: dict) -> list[Reason]:
    """Lead-ins, translator's notes and offers of help that the source does not contain."""
    return apply_rules(record, RULES)
