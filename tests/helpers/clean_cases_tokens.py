"""Clean cases for template tokens, nicknames in quotes and a lead-in that frames the answer as a text's meaning.

Written in the shape of misses a blind probe (records written without sight of the rules) found, in other
words: a format string whose `%s` came back full-width, a `{field}` of a template translated, an answer prefixed
with "这句话的意思是：" when the English only explains a sign, and, as hard negatives, a lowercase nickname in
quotes ("the city of light") that translates like prose, percentages, and a source that really speaks of a
phrase's meaning.
"""

from __future__ import annotations

from helpers.clean_records import rec

TOKEN_CLEAN = [
    (
        "percentages and a kept template field",
        None,
        rec(
            "t01",
            ("邮件模板里写了什么？", "What does the email template say?"),
            (
                "模板写着“Dear {customer_name}, 50% of your order has shipped.”，其余部分会在两天内发出。",
                'The template says "Dear {customer_name}, 50% of your order has shipped." The rest ships within two days.',
            ),
        ),
    ),
    (
        "lowercase nickname in quotes translated as prose",
        None,
        rec(
            "t02",
            ("这是哪座城市？", "Which city is this?"),
            (
                "这是巴黎，人们常称它为“光之城”，画面中央是埃菲尔铁塔。",
                'This is Paris, often called the "city of light", with the Eiffel Tower in the middle of the frame.',
            ),
        ),
    ),
    (
        "the source itself explains what a phrase means",
        None,
        rec(
            "t03",
            ("T恤上的字是什么意思？", "What does the text on the T-shirt mean?"),
            (
                "这句话的意思是：“现在就去做”。T恤上印着“JUST DO IT”，是一句广告口号。",
                'The phrase means: "do it now". The T-shirt reads "JUST DO IT", an advertising slogan.',
            ),
        ),
    ),
]

TOKEN_DEFECTS = [
    (
        "printf token came back full-width",
        "placeholder",
        rec(
            "t11",
            ("报错信息是什么？", "What is the error message?"),
            (
                "上面写着“Error: cannot open ％s”，说明程序没有替换文件名。",
                'It says "Error: cannot open %s", so the program never filled in the file name.',
            ),
        ),
    ),
    (
        "template field translated",
        "placeholder",
        rec(
            "t12",
            ("这条通知模板写了什么？", "What does this notification template say?"),
            (
                "模板内容是：你好{用户名}，你的验证码将在10分钟后失效。",
                "The template reads: Hi {username}, your code expires in 10 minutes.",
            ),
        ),
    ),
    (
        "capitalised shop name after 'called' translated",
        "ocr",
        rec(
            "t13",
            ("街角是什么店？", "What shop is on the corner?"),
            (
                "街角有一家名叫“甜屑”的面包店，门口摆着几张小圆桌。",
                'On the corner is a bakery called "Sweet Crumbs", with small round tables outside.',
            ),
        ),
    ),
    (
        "answer framed as the meaning of a passage the source never mentions",
        "preamble",
        rec(
            "t14",
            ("这个标志是什么意思？", "What does this sign mean?"),
            ("这段话的意思是：禁止停车，违者拖车。", "It means no parking; cars parked here will be towed."),
        ),
    ),
]
