"""Clean cases for answered's content checks: a human turn that came back as the answer after it, and a turn that
keeps few of its source's concrete words (anchors.yaml) because the translator wrote another answer.

The hard negatives are translations that paraphrase but keep the things named, keep a name in English, or echo
a question in its answer because the English does too.
"""

from __future__ import annotations

from helpers.clean_records import rec

CONTENT_CLEAN = [
    (
        "how-many question whose translator dropped the question mark",
        None,
        rec(
            "a08",
            ("电线上有几只鸟", "How many birds are on the wire?"),
            ("电线上有四只鸟。", "There are four birds on the wire."),
        ),
    ),
    (
        "paraphrase that keeps every thing it names",
        None,
        rec(
            "a01",
            ("描述这张图片。", "Describe the picture."),
            (
                "靠窗的木桌下面，一只棕色的小狗正在睡觉，旁边放着一个红色的球。",
                "A brown dog sleeps under a wooden table next to the window, beside a red ball.",
            ),
        ),
    ),
    (
        "brand name kept in English",
        None,
        rec(
            "a02",
            ("桌上有什么？", "What is on the table?"),
            (
                "桌上放着一个Blue Bottle Coffee的杯子，旁边是一台笔记本电脑和一部手机。",
                "A Blue Bottle Coffee cup sits on the table next to a laptop and a phone.",
            ),
        ),
    ),
    (
        "yes/no answer echoing its question, as the English does",
        None,
        rec(
            "a03",
            ("这个男人戴着红色的帽子吗？", "Is the man wearing a red hat?"),
            ("是的，这个男人戴着一顶红色的帽子。", "Yes, the man is wearing a red hat."),
        ),
    ),
    (
        "instruction and its answer share the sign's words, in English too",
        None,
        rec(
            "a04",
            ("读出横幅上的文字。", "Read the text on the banner."),
            ("横幅上的文字是“GRAND OPENING”。", 'The text on the banner is "GRAND OPENING".'),
        ),
    ),
    (
        "colours merged into one word",
        None,
        rec(
            "a05",
            ("描述这面旗子。", "Describe the flag."),
            (
                "一面红白蓝三色的旗子挂在一栋白色建筑的窗户上。",
                "A red, white and blue flag hangs from a window of a white building.",
            ),
        ),
    ),
]

CONTENT_CLEAN += [
    (
        "idioms that drop a colour (black tea is 红茶, brown sugar 红糖)",
        None,
        rec(
            "a06",
            ("他们在吃什么？", "What are they eating?"),
            (
                "他们在吃热狗，喝红茶，旁边还有一盘红糖饼。",
                "They are eating hot dogs and drinking black tea, with a plate of brown sugar cakes nearby.",
            ),
        ),
    ),
    (
        "a list of animals, every one named",
        None,
        rec(
            "a07",
            ("图中有什么动物？", "What animals are in the picture?"),
            (
                "图中有一只猫、一条狗、一只兔子和一只小鸟，它们挤在同一个篮子里。",
                "There is a cat, a dog, a rabbit and a bird, all squeezed into the same basket.",
            ),
        ),
    ),
]

CONTENT_DEFECTS = [
    (
        "instruction carried out in a statement that says 'a few' (几只)",
        "answered",
        rec(
            "a16",
            ("电线上停着几只麻雀，正在晒太阳。", "Tell me about the birds on the wire."),
            (
                "几只麻雀并排停在电线上，羽毛在阳光下蓬松着。",
                "A few sparrows sit side by side on the wire, their feathers fluffed in the sun.",
            ),
        ),
    ),
    (
        "instruction came back as the answer that follows it",
        "answered",
        rec(
            "a11",
            ("横幅上写着“GRAND OPENING”。", "Tell me what the banner says."),
            ("横幅上写着“GRAND OPENING”。", 'The banner says "GRAND OPENING".'),
        ),
    ),
    (
        "second request came back as its answer",
        "answered",
        rec(
            "a12",
            ("图中是什么动物？", "What animal is in the picture?"),
            ("图中是一只长颈鹿。", "It is a giraffe."),
            ("它正在吃树上的叶子。", "Describe what it is doing."),
            ("它正在吃树上的叶子。", "It is eating leaves from a tree."),
        ),
    ),
    (
        "gpt turn replaced by another scene",
        "answered",
        rec(
            "a13",
            ("描述这张图片。", "Describe this image."),
            (
                "一位穿着蓝色衬衫的女士正坐在咖啡馆里看报纸。",
                "A man in a red jacket walks his dog along the beach at sunset.",
            ),
        ),
    ),
    (
        "gpt turn replaced by a plausible answer about the same picture",
        "answered",
        rec(
            "a14",
            ("孩子们在做什么？", "What are the children doing?"),
            (
                "孩子们正围坐在一起野餐，地上铺着一块格子布。",
                "Two children are flying a yellow kite on the grass near a lake.",
            ),
        ),
    ),
    (
        "long description replaced by another room",
        "answered",
        rec(
            "a15",
            ("详细描述这张图片。", "Describe this image in detail."),
            (
                "照片里是一间现代化的办公室，几名员工正围坐在会议桌旁讨论项目，墙上的大屏幕显示着一张柱状图。",
                "The photo shows a cozy reading corner. A gray armchair sits beside a tall bookshelf. A floor lamp "
                "casts a warm glow over a side table holding a mug of tea, and a sleeping orange cat is curled up on "
                "the cushion.",
            ),
        ),
    ),
]
