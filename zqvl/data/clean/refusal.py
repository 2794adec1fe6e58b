"""refusal / meta: the model declined or talked about itself instead of translating.

"抱歉，我无法…", "作为一个AI语言模型…", "I'm sorry, but I can't assist" replace the real answer (or the
question). Each pattern is excused when the English source apologises or speaks as an AI too.
"""

from __future__ import annotations

import re

from zqvl.data.clean.registry import Reason, register
from zqvl.data.clean.rules import Rule, apply_rules, rx
from zqvl.data.schema import Record

I = re.I
APOLOGY = rx(r"sorry|apolog|regret|unfortunately|afraid|excuse me|pardon", I)
AI_SELF = rx(
    r"\bas an? (?:ai|artificial|language|assistant|model|chatbot)|\bai\b|language model|"
    r"artificial intelligence|chatbot",
    I,
)
INABILITY = rx(r"can't|cannot|can not|unable|not able|won't|will not|not possible|couldn't|could not", I)
SENSITIVE = rx(r"sensitive|inappropriate|policy|policies|guidelines|explicit|offensive", I)
PREFERENCE = rx(r"preference|opinion|feelings|emotions|personal", I)

RULES = (
    Rule(
        "refusal.apology",
        rx(
            r"(?:抱歉|对不起|很遗憾|不好意思|遗憾的是)[^。！？\n]{0,30}?"
            r"(?:无法|不能|没法|不便|不可以|做不到|帮不了|做不了|无能为力|爱莫能助)"
        ),
        APOLOGY,
    ),
    Rule(
        "refusal.apology",
        rx(
            r"(?:i'm sorry|i am sorry|i apologi[sz]e|sorry)[^.!?\n]{0,40}?"
            r"(?:can't|cannot|can not|unable|not able|won't)",
            I,
        ),
        APOLOGY,
        mono=True,
    ),
    Rule(
        "refusal.ai_self",
        rx(r"作为(?:一个|一名|一款|个)?\s*(?:AI|ＡＩ|人工智能|人工智慧|语言模型|大语言模型|聊天机器人)", I),
        AI_SELF,
        mono=True,
    ),
    Rule(
        "refusal.ai_self",
        rx(
            r"我(?:只是|仅仅是|不过是|是)(?:一个|一款|一名|个)?\s*(?:AI|人工智能|语言模型|大语言模型|"
            r"AI语言模型|AI助手|人工智能助手|聊天机器人)",
            I,
        ),
        AI_SELF,
        mono=True,
    ),
    Rule(
        "refusal.ai_self",
        rx(
            r"\bas an ai\b|\bai language model\b|\bas a language model\b|\bi am an ai\b|"
            r"\bi'm an ai\b",
            I,
        ),
        AI_SELF,
        mono=True,
    ),
    Rule(
        "refusal.declined",
        rx(
            r"(?:无法|不能|没法)(?:协助|帮助|帮你|帮您|完成|满足|处理|提供|回答|翻译)[^。！？\n]{0,12}?"
            r"(?:请求|要求|任务|翻译|问题|描述|内容|信息|回答|答案)"
        ),
        INABILITY,
        mono=True,
    ),
    Rule(
        "refusal.declined",
        rx(
            r"(?:i|we)(?: am|'m)? (?:can't|cannot|can not|unable to|not able to|won't|will not) "
            r"(?:assist|help|comply|provide|translate|fulfill|answer|describe)",
            I,
        ),
        INABILITY,
        mono=True,
    ),
    Rule(
        "refusal.declined",
        rx(
            r"我(?:无法|不能|没法)?(?:看不到|看不见|查看|看到|访问|打开)(?:任何)?(?:图片|图像|照片|这张图片?)"
            r"(?=[，,。！!；;]|$)"
        ),
        INABILITY,
        mono=True,
    ),
    Rule("refusal.declined", rx(r"超出了?我的(?:能力|知识|服务)范围"), INABILITY, mono=True),
    Rule(
        "refusal.sensitive",
        rx(r"(?:涉及|包含|属于|含有)[^。！？\n]{0,8}(?:敏感|不当|违规|违法|不适当)"),
        SENSITIVE,
        mono=True,
    ),
    Rule(
        "refusal.no_opinion",
        rx(r"我(?:并)?没有(?:个人)?(?:的)?(?:偏好|观点|意见|感情|情感|喜好)"),
        PREFERENCE,
        mono=True,
    ),
)


@register("refusal")
def check_refusal(record: Record, params: dict) -> list[Reason]:
    """Refusals and AI self-talk in any turn that the source does not contain."""
    return apply_rules(record, RULES)
