"""Generate a realistic machine-translated image-chat set, deterministic to the byte (used by tools/bench/clean.py).

    python tools/make_translated_set.py --out /tmp/zh_set --n 20000 [--seed 0] [--defect-rate 0.15]

Writes OUT/chat.json (canonical records whose turns keep their English in `source`), OUT/images/ (small drawn
JPEGs: scenes, and signs carrying the English text the OCR answers quote) and OUT/labels.json (id → class:
"clean" or the planted defect family). Records mix captions, counting and price questions, quoted signs,
DESCRIPTION/TEXT transcriptions, brand names, markdown lists, tables, code and multi-turn chats; about
`--defect-rate` of them carry one defect of the kinds `zqvl-data clean` looks for, including near-duplicate
answers and re-encoded copies of earlier images.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

COLORS = [
    ("red", "红色", (200, 40, 40)),
    ("blue", "蓝色", (40, 80, 200)),
    ("green", "绿色", (40, 150, 60)),
    ("yellow", "黄色", (230, 200, 40)),
    ("black", "黑色", (30, 30, 30)),
    ("white", "白色", (235, 235, 235)),
    ("orange", "橙色", (240, 140, 30)),
    ("purple", "紫色", (130, 60, 170)),
]
OBJECTS = [
    ("cat", "猫", "只"),
    ("dog", "狗", "只"),
    ("bicycle", "自行车", "辆"),
    ("car", "汽车", "辆"),
    ("umbrella", "雨伞", "把"),
    ("chair", "椅子", "把"),
    ("lamp", "台灯", "盏"),
    ("book", "书", "本"),
    ("cup", "杯子", "个"),
    ("backpack", "背包", "个"),
    ("bench", "长椅", "张"),
    ("clock", "时钟", "个"),
]
PLACES = [
    ("on a wooden table", "在一张木桌上"),
    ("in a quiet park", "在一个安静的公园里"),
    ("next to a large window", "在一扇大窗户旁边"),
    ("on a wet sidewalk", "在湿漉漉的人行道上"),
    ("in a small kitchen", "在一间小厨房里"),
    ("at a busy train station", "在一个繁忙的火车站"),
]
EXTRAS = [
    ("The light is soft and warm.", "光线柔和而温暖。"),
    ("A few people walk past in the background.", "背景中有几个人走过。"),
    ("Rain has left small puddles on the ground.", "雨水在地上留下了几个小水洼。"),
    ("The scene looks calm and tidy.", "整个场景看起来平静而整洁。"),
    ("Shadows stretch across the floor in the late afternoon.", "傍晚时分，影子在地面上拉得很长。"),
    ("A potted plant stands in the corner.", "角落里摆着一盆绿植。"),
    ("Someone has left a newspaper nearby.", "旁边有人留下了一份报纸。"),
    ("The wall behind it is painted pale gray.", "后面的墙漆成了浅灰色。"),
    ("A bird is perched on a railing above.", "上方的栏杆上停着一只鸟。"),
    ("The photo was taken from a low angle.", "这张照片是从低角度拍摄的。"),
    ("Snow is falling lightly outside.", "外面正飘着小雪。"),
    ("There is a faint smell of coffee in the air.", "空气中飘着淡淡的咖啡香。"),
    ("A bus is waiting at the corner.", "一辆公交车停在街角等候。"),
    ("Two children are laughing nearby.", "附近有两个孩子在笑。"),
    ("The ground is covered with fallen leaves.", "地上铺满了落叶。"),
    ("Warm lamps glow in the shop windows.", "商店橱窗里的灯散发着温暖的光。"),
]
SIGNS = [
    ("OPEN 24 HOURS", "24小时营业"),
    ("NO PARKING", "禁止停车"),
    ("FRESH COFFEE", "新鲜咖啡"),
    ("EXIT", "出口"),
    ("STAFF ONLY", "员工专用"),
    ("FREE WIFI", "免费无线网络"),
    ("CLOSED ON SUNDAYS", "周日休息"),
    ("WELCOME HOME", "欢迎回家"),
    ("MIND THE GAP", "小心空隙"),
    ("SALE 30% OFF", "七折优惠"),
]
BRANDS = [
    "Canon EOS R5",
    "Sony WH-1000XM5",
    "iPhone 14",
    "Nike Air Max 90",
    "Toyota Corolla",
    "MacBook Air",
    "Nintendo Switch",
    "Kindle Paperwhite",
]
NUM_EN = "zero one two three four five six seven eight nine".split()
NUM_ZH = "零一两三四五六七八九"
VERBS = [("count", "统计"), ("sum", "求和"), ("filter", "筛选"), ("sort", "排序"), ("load", "加载"), ("parse", "解析")]
NOUNS = [
    ("orders", "订单"),
    ("users", "用户"),
    ("prices", "价格"),
    ("events", "事件"),
    ("files", "文件"),
    ("scores", "分数"),
    ("tickets", "门票"),
    ("readings", "读数"),
]
ADJS = [
    ("small", "小小的"),
    ("old", "旧旧的"),
    ("shiny", "闪亮的"),
    ("dusty", "落满灰尘的"),
    ("tiny", "小巧的"),
    ("large", "大大的"),
    ("worn", "磨损的"),
    ("new", "崭新的"),
    ("wet", "湿漉漉的"),
    ("striped", "带条纹的"),
]
RELATIONS = [
    ("next to", "旁边"),
    ("behind", "后面"),
    ("under", "下面"),
    ("on top of", "上面"),
    ("in front of", "前面"),
    ("to the left of", "左边"),
    ("to the right of", "右边"),
]
KINDS = (
    ["caption"] * 6
    + ["count"] * 2
    + ["sign"] * 2
    + ["ocr"] * 2
    + ["price"] * 2
    + ["list", "brand", "code", "table", "multi"]
)
TRADITIONAL = str.maketrans("这个们时间说里发门开车东长书", "這個們時間說裡發門開車東長書")


def scene(rng):
    obj, color, place = rng.choice(OBJECTS), rng.choice(COLORS), rng.choice(PLACES)
    return obj, color, place


def detail(rng) -> tuple[str, str]:
    """A random sentence placing one thing relative to another, in English and Chinese."""
    (a_en, a_zh), (c_en, c_zh, _), (o_en, o_zh, mw) = rng.choice(ADJS), rng.choice(COLORS), rng.choice(OBJECTS)
    (r_en, r_zh), other = rng.choice(RELATIONS), rng.choice(OBJECTS)
    return (f"A {a_en} {c_en} {o_en} is {r_en} the {other[0]}.", f"{other[1]}{r_zh}有一{mw}{a_zh}{c_zh}{o_zh}。")


def make_record(rng: random.Random, rid: str) -> tuple[dict, dict]:
    """(record, drawing spec) for one clean record of a random kind."""
    obj, color, place = scene(rng)
    kind = rng.choice(KINDS)
    en_obj, zh_obj, mw = obj
    more = detail(rng)
    e = rng.choice(EXTRAS)
    extra = (f"{e[0]} {more[0]}", f"{e[1]}{more[1]}")
    sign = rng.choice(SIGNS) if kind in ("sign", "ocr") else None
    if kind == "caption":
        e1, e2 = rng.sample(EXTRAS, 2)
        obj2, color2 = rng.choice(OBJECTS), rng.choice(COLORS)
        q = ("Describe this image in detail.", "详细描述这张图片。")
        d1, d2 = detail(rng), detail(rng)
        a = (
            f"A {color[0]} {en_obj} {place[0]}, with a {color2[0]} {obj2[0]} beside it. {d1[0]} {e1[0]} {d2[0]} "
            f"{e2[0]}",
            f"一{mw}{color[1]}的{zh_obj}{place[1]}，旁边还有一{obj2[2]}{color2[1]}的{obj2[1]}。"
            f"{d1[1]}{e1[1]}{d2[1]}{e2[1]}",
        )
        turns = [q, a]
    elif kind == "count":
        n = rng.randint(2, 9)
        word = rng.random() < 0.5
        q = (f"How many {en_obj}s are there?", f"图中有几{mw}{zh_obj}？")
        a = (
            f"There are {NUM_EN[n] if word else n} {en_obj}s {place[0]}. {extra[0]}",
            f"{place[1]}有{NUM_ZH[n] if word else n}{mw}{zh_obj}。{extra[1]}",
        )
        turns = [q, a]
    elif kind == "sign":
        q = ("What does the sign say?", "标志上写着什么？")
        a = (
            f'The {color[0]} sign {place[0]} says "{sign[0]}". {extra[0]}',
            f"{place[1]}的{color[1]}标志上写着“{sign[0]}”。{extra[1]}",
        )
        turns = [q, a]
    elif kind == "ocr":
        q = ("Describe the image and transcribe any text in it.", "描述这张图片，并转写其中的所有文字。")
        year = rng.randint(1950, 2020)
        a = (
            f"DESCRIPTION: A {color[0]} sign hangs {place[0]}. {extra[0]}\nTEXT: {sign[0]} / Since {year}",
            f"描述：一块{color[1]}的牌子挂{place[1]}。{extra[1]}\nTEXT: {sign[0]} / Since {year}".replace(
                "TEXT: ", "文字：", 1
            ),
        )
        turns = [q, a]
    elif kind == "price":
        price, pct = rng.randint(100, 9999) / 100, rng.randint(10, 40)
        q = (f"How much is the {en_obj}?", f"这{mw}{zh_obj}多少钱？")
        a = (
            f"The tag shows ${price:.2f}, and it is {pct}% off today.",
            f"价签上显示{price:.2f}美元，今天打折优惠{pct}%。",
        )
        turns = [q, a]
    elif kind == "list":
        items = list(zip(rng.sample(OBJECTS, 4), rng.sample(COLORS, 4)))
        q = ("What items can you see?", "你能看到哪些物品？")
        a = (
            f"I can see these items {place[0]}:\n\n" + "\n".join(f"- A {c[0]} {o[0]}" for o, c in items),
            f"{place[1]}我能看到这些物品：\n\n" + "\n".join(f"- 一{o[2]}{c[1]}的{o[1]}" for o, c in items),
        )
        turns = [q, a]
    elif kind == "brand":
        brand = rng.choice(BRANDS)
        q = ("What product is shown here?", "图中展示的是什么产品？")
        a = (f"It is a {brand}, placed {place[0]}. {extra[0]}", f"这是一款{brand}，放{place[1]}。{extra[1]}")
        turns = [q, a]
    elif kind == "code":
        (v_en, v_zh), (n_en, n_zh) = rng.choice(VERBS), rng.choice(NOUNS)
        limit, name = rng.randint(2, 500), f"{v_en}_{n_en}"
        var, arg, out = (
            rng.choice(["x", "item", "value", "row"]),
            rng.choice(["items", "data", "rows"]),
            rng.choice(["result", "kept", "selected"]),
        )
        body = rng.choice(
            [
                f"    {out} = [{var} for {var} in {arg} if {var} < limit]\n",
                f"    {out} = []\n    for {var} in {arg}:\n        if {var} < limit:\n"
                f"            {out}.append({var})\n",
                f"    {out} = list(filter(lambda {var}: {var} < limit, {arg}))\n",
            ]
        )
        code = (
            f"def {name}({arg}, limit={limit}):\n{body}"
            f"    return {'len' if v_en == 'count' else 'sorted' if v_en == 'sort' else 'list'}({out})"
        )
        q = ("What does the code in the screenshot do?", "截图中的代码是做什么的？")
        a = (
            f"The function `{name}` keeps the {n_en} below {limit} and returns them:\n\n```python\n{code}\n```",
            f"函数 `{name}` 会{v_zh}低于{limit}的{n_zh}并返回结果：\n\n```python\n{code}\n```",
        )
        turns = [q, a]
    elif kind == "table":
        rows = rng.sample(OBJECTS, 3)
        prices = [rng.randint(2, 900) / 10 for _ in rows]
        stock = [rng.randint(0, 80) for _ in rows]
        q = ("Put the prices and stock in a table.", "把价格和库存整理成表格。")
        a = (
            "| Item | Price | In stock |\n|---|---|---|\n"
            + "\n".join(f"| {o[0]} | ${p} | {n} |" for o, p, n in zip(rows, prices, stock)),
            "| 物品 | 价格 | 库存 |\n|---|---|---|\n"
            + "\n".join(f"| {o[1]} | ${p} | {n} |" for o, p, n in zip(rows, prices, stock)),
        )
        turns = [q, a]
    else:
        e2 = rng.choice(EXTRAS)
        turns = [
            ("What is in the picture?", "图片里有什么？"),
            (f"A {color[0]} {en_obj} {place[0]}. {e2[0]}", f"一{mw}{color[1]}的{zh_obj}{place[1]}。{e2[1]}"),
            ("What else do you notice?", "你还注意到了什么？"),
            extra,
        ]
    convs = []
    for i, (en, zh) in enumerate(turns):
        if i == 0:
            en, zh = "<image>\n" + en, "<image>\n" + zh
        convs.append({"from": "human" if i % 2 == 0 else "gpt", "value": zh, "source": en})
    record = {"id": rid, "image": f"{rid}.jpg", "conversations": convs}
    return record, {
        "color": color[2],
        "shape": OBJECTS.index(obj),
        "sign": sign[0] if sign else None,
        "seed": rng.randrange(1 << 30),
        "offset": rng.randint(0, 30),
    }


def corrupt(rng: random.Random, record: dict, earlier: list[dict]) -> str:
    """Plant one defect in place; return its family."""
    convs = record["conversations"]
    gpt = next(t for t in reversed(convs) if t["from"] == "gpt")
    kind = rng.choice(
        [
            "preamble",
            "refusal",
            "truncation",
            "repetition",
            "untranslated",
            "residue",
            "numbers",
            "placeholder",
            "structure",
            "script",
            "near_duplicate",
            "ocr",
            "markdown",
        ]
    )
    if kind == "preamble":
        gpt["value"] = rng.choice(["以下是翻译：\n", "翻译如下：", "好的，以下是中文译文：\n"]) + gpt["value"]
    elif kind == "refusal":
        gpt["value"] = rng.choice(
            [
                "抱歉，我无法协助翻译该内容。",
                "作为一个AI语言模型，我无法查看图片。",
                "I'm sorry, but I can't assist with that request.",
            ]
        )
    elif kind == "truncation":
        v = gpt["value"]
        gpt["value"] = v[: max(2, len(v) // 3)].rstrip("。") + "，"
    elif kind == "repetition":
        v = gpt["value"].rstrip("。")
        piece = v[-6:] if len(v) > 6 else v
        gpt["value"] = v + ("，" + piece) * 8
    elif kind == "untranslated":
        gpt["value"] = gpt["source"]
    elif kind == "residue":
        gpt["value"] += " It was taken on a quiet afternoon by the photographer."
        gpt["source"] += " It was taken on a quiet afternoon by the photographer."
    elif kind == "numbers":
        gpt["value"] = gpt["value"] + "共有17个。"
        gpt["source"] = gpt["source"] + " There are 71 in total."
    elif kind == "placeholder":
        convs[0]["value"] = convs[0]["value"].replace("<image>", rng.choice(["<图像>", "< image >", "<IMAGE>"]))
    elif kind == "structure":
        convs[0]["from"] = rng.choice(["用户", "人类"])
    elif kind == "script":
        gpt["value"] = gpt["value"].translate(TRADITIONAL) + "這個東西很長。"
        gpt["source"] += " This thing is long."
    elif kind == "near_duplicate" and earlier:
        src = rng.choice(earlier)
        answers = [t for t in src["conversations"] if t["from"] == "gpt"]
        if len("".join(t["value"] for t in answers)) >= 20:
            mine = [t for t in convs if t["from"] == "gpt"]
            for a, b in zip(mine, answers):
                a["value"], a["source"] = b["value"], b["source"]
            if len(mine) == len(answers):
                return kind
        gpt["value"] = gpt["source"]
        return "untranslated"
    elif kind == "ocr":
        sign = rng.choice(SIGNS)
        gpt["value"] += f"旁边还有一块写着“{sign[1]}”的小牌子。"
        gpt["source"] += f' Next to it is a small sign that says "{sign[0]}".'
    else:
        gpt["value"] += "\n\n```python\nprint('ok')\n"
        gpt["source"] += "\n\n```python\nprint('ok')\n```"
    return kind


def draw(spec: dict, path: Path, font) -> None:
    rng = random.Random(spec["seed"])
    im = Image.new("RGB", (160, 120), tuple(rng.randrange(120, 256) for _ in range(3)))
    d = ImageDraw.Draw(im)
    for _ in range(rng.randint(3, 6)):  # a few random shapes so every picture is different
        x, y = rng.randrange(0, 130), rng.randrange(0, 95)
        w, h = rng.randrange(15, 60), rng.randrange(15, 50)
        colour = tuple(rng.randrange(256) for _ in range(3))
        [d.ellipse, d.rectangle][rng.randrange(2)]((x, y, x + w, y + h), fill=colour)
    o = spec["offset"]
    d.ellipse((20 + o, 40, 80 + o, 100), fill=spec["color"])
    if spec["sign"]:
        d.rectangle((4, 4, 156, 26), fill=(250, 250, 250), outline=(20, 20, 20))
        d.text((8, 8), spec["sign"][:22], fill=(20, 20, 20), font=font)
    im.save(path, "JPEG", quality=85)


def generate(out: Path, n: int, seed: int = 0, defect_rate: float = 0.15) -> dict[str, str]:
    rng = random.Random(seed)
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    font = ImageFont.load_default(size=11)
    records, labels, clean_recent = [], {}, []
    for i in range(n):
        rid = f"t{i:06d}"
        record, spec = make_record(rng, rid)
        label = "clean"
        if rng.random() < defect_rate:
            if rng.random() < 0.08 and records:  # a re-encoded copy of an earlier image
                donor = rng.choice(records[-200:])
                with Image.open(images / donor["image"]) as im:
                    im.resize((150, 112)).save(images / record["image"], "JPEG", quality=70)
                labels[rid] = "near_duplicate_image"
                records.append(record)
                continue
            label = corrupt(rng, record, clean_recent)
        draw(spec, images / record["image"], font)
        if label == "clean":
            clean_recent = (clean_recent + [record])[-200:]
        labels[rid] = label
        records.append(record)
    with open(out / "chat.json", "w", encoding="utf-8") as fh:
        fh.write("[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n]\n")
    (out / "labels.json").write_text(json.dumps(labels, indent=0, ensure_ascii=False), encoding="utf-8")
    return labels


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--defect-rate", type=float, default=0.15)
    a = p.parse_args()
    labels = generate(a.out, a.n, a.seed, a.defect_rate)
    bad = sum(v != "clean" for v in labels.values())
    print(f"wrote {len(labels)} records ({bad} with a planted defect) to {a.out}")


if __name__ == "__main__":
    main()
