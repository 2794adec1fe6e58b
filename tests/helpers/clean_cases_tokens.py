"""Clean cases in the shape of misses that blind probes (records written without sight of the rules) found, in
other words: a format string whose `%s` came back full-width, a `{field}` of a template translated, an answer
prefixed with "这句话的意思是：" when the English only explains a sign, a role label "AI：", a clause looped
with different punctuation, a clause written in toneless pinyin, the next question merged into an answer; and, as hard negatives, a lowercase nickname in quotes ("the city of light"),
percentages, a source that really speaks of a phrase's meaning, a race time with hundredths, a clause said
twice for emphasis, a chant the source repeats too, and pinyin the source itself quotes.
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

TOKEN_CLEAN += [
    (
        "race time with hundredths",
        None,
        rec(
            "t04",
            ("第2泳道的选手成绩如何？", "How did the swimmer in lane 2 do?"),
            (
                "她以2:03.17的成绩获得第二名，比第一名只慢了0.4秒。",
                "She came 2nd in 2:03.17, only 0.4 seconds behind the winner.",
            ),
        ),
    ),
    (
        "a clause said twice for emphasis, as in the source",
        None,
        rec(
            "t05",
            ("她在喊什么？", "What is she shouting?"),
            (
                "她在喊“快跑，快跑”，朝着我们拼命挥手，一直挥手。",
                'She is shouting "run, run" and waving at us frantically, waving and waving.',
            ),
        ),
    ),
    (
        "a chant the source repeats three times too",
        None,
        rec(
            "t06",
            ("横幅上写的是什么？", "What do the fans chant?"),
            (
                "球迷们齐声高喊：我们是冠军队伍，我们是冠军队伍，我们是冠军队伍！",
                "The fans chant: we are the champion team, we are the champion team, we are the champion team!",
            ),
        ),
    ),
]

TOKEN_CLEAN += [
    (
        "pinyin the source quotes from a sign, kept",
        None,
        rec(
            "t07",
            ("牌子上写的是什么？", "What does the little sign say?"),
            (
                "牌子上用拼音写着“huan ying guang lin xie xie”，意思是欢迎光临、谢谢。",
                'The sign says "huan ying guang lin xie xie" in pinyin, meaning welcome and thank you.',
            ),
        ),
    ),
]

TOKEN_CLEAN += [
    (
        "an answer that repeats the question on a line of its own, as its source does",
        None,
        rec(
            "t08",
            ("这只鸟叫什么？", "What is this bird called?"),
            (
                "你问的是：\n这只鸟叫什么？\n它是一只翠鸟。",
                "You asked:\nWhat is this bird called?\nIt is a kingfisher.",
            ),
        ),
    ),
]

TOKEN_DEFECTS = [
    (
        "the next question merged into the answer before it, and kept in its own turn too",
        "structure",
        rec(
            "t18",
            ("桌上放着什么？", "What is on the desk?"),
            (
                "桌上放着一台笔记本电脑和一杯咖啡。\n\n咖啡杯是什么颜色的？",
                "A laptop and a cup of coffee are on the desk.",
            ),
            ("咖啡杯是什么颜色的？", "What color is the coffee cup?"),
            ("杯子是白色的，上面有蓝色条纹。", "The cup is white with blue stripes."),
        ),
    ),
    (
        "a clause written in toneless pinyin",
        "script",
        rec(
            "t17",
            ("这家店怎么样？", "Is this shop any good?"),
            (
                "店面不大，但是很干净。xia ci wo men hai hui lai zhe li，老板人也很好。",
                "The shop is small but clean. We would come back here next time, and the owner is friendly.",
            ),
        ),
    ),
    (
        "role label AI： at the start of a later answer",
        "junk",
        rec(
            "t15",
            ("这是什么水果？", "What fruit is this?"),
            ("这是一个火龙果。", "It is a dragon fruit."),
            ("它是什么味道的？", "What does it taste like?"),
            ("AI：它的味道清甜，口感有点像猕猴桃。", "It tastes mildly sweet, a bit like kiwi."),
        ),
    ),
    (
        "a clause looped three times, the last copy ending the sentence",
        "repetition",
        rec(
            "t16",
            ("怎么去地铁站？", "How do I get to the subway station?"),
            (
                "出门后沿着河边走到第二个路口再穿过天桥到马路对面，穿过天桥到马路对面，穿过天桥到马路对面。车站就在左手边。",
                "Walk along the river to the second intersection and take the footbridge across the road. The station is on your left.",
            ),
        ),
    ),
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
