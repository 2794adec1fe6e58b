"""Generate zqvl's bundled sample: a small Chinese image-chat set, deterministic to the byte.

    python tools/make_sample.py [--out zqvl/assets/sample]

Images are drawn with Pillow (coloured shapes; some carry English signs, like TextOCR photos). Conversations
are built from the same scene description in English and Chinese, so the translated records (`source` kept)
are correct by construction. A few records carry planted translation defects (for `clean`) and a few are
broken on purpose (for `validate`): the demo shows both being caught.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "zqvl" / "assets" / "sample"

COLOURS = {  # name: (rgb, english, chinese)
    "red": ((220, 40, 40), "red", "红色"),
    "blue": ((40, 80, 220), "blue", "蓝色"),
    "green": ((40, 170, 70), "green", "绿色"),
    "yellow": ((240, 210, 40), "yellow", "黄色"),
    "purple": ((140, 60, 180), "purple", "紫色"),
    "orange": ((245, 140, 30), "orange", "橙色"),
}
SHAPES = {"circle": ("circle", "圆形"), "square": ("square", "正方形"), "triangle": ("triangle", "三角形")}
PLACES = {"left": ("on the left", "左边"), "right": ("on the right", "右边"), "center": ("in the center", "中间")}
BACKGROUNDS = [
    ((245, 245, 240), "white", "白色"),
    ((200, 225, 245), "light blue", "浅蓝色"),
    ((235, 235, 200), "beige", "米色"),
]
SIGNS = [
    "OPEN 24 HOURS",
    "STOP",
    "EXIT",
    "COFFEE $3.50",
    "NO PARKING",
    "SALE 50% OFF",
    "PLATFORM 9",
    "FRESH BREAD",
    "WELCOME",
    "ROUTE 66",
]
TEXT_ONLY = [
    (
        "Explain in one sentence what photosynthesis is.",
        "用一句话解释什么是光合作用。",
        "Photosynthesis is the process by which plants use sunlight to turn water and carbon dioxide into sugar "
        "and oxygen.",
        "光合作用是植物利用阳光把水和二氧化碳转化为糖和氧气的过程。",
    ),
    ("What is the capital of France?", "法国的首都是哪里？", "The capital of France is Paris.", "法国的首都是巴黎。"),
]


def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def draw_scene(rng: random.Random, with_sign: bool):
    """Return (PIL image, scene dict) for a random scene."""
    w, h = rng.choice([(160, 120), (192, 144), (144, 144), (128, 160)])
    bg = rng.choice(BACKGROUNDS)
    img = Image.new("RGB", (w, h), bg[0])
    d = ImageDraw.Draw(img)
    places = rng.sample(list(PLACES), rng.randint(1, 2))
    objects = []
    for place in places:
        colour, shape = rng.choice(list(COLOURS)), rng.choice(list(SHAPES))
        cx = {"left": w // 4, "right": 3 * w // 4, "center": w // 2}[place]
        cy, r = h // 2 + (18 if with_sign else 0), min(w, h) // 7
        box = [cx - r, cy - r, cx + r, cy + r]
        fill = COLOURS[colour][0]
        if shape == "circle":
            d.ellipse(box, fill=fill)
        elif shape == "square":
            d.rectangle(box, fill=fill)
        else:
            d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
        objects.append((colour, shape, place))
    sign = None
    if with_sign:
        sign = rng.choice(SIGNS)
        d.rectangle([6, 6, w - 6, 34], fill=(30, 30, 30))
        d.text((w // 2, 20), sign, font=font(15), fill=(255, 255, 255), anchor="mm")
    return img, {"bg": bg, "objects": objects, "sign": sign}


def describe(scene) -> tuple[str, str]:
    en_parts, zh_parts = [], []
    for colour, shape, place in scene["objects"]:
        en_parts.append(f"a {COLOURS[colour][1]} {SHAPES[shape][0]} {PLACES[place][0]}")
        zh_parts.append(f"{PLACES[place][1]}有一个{COLOURS[colour][2]}的{SHAPES[shape][1]}")
    en = f"The picture has a {scene['bg'][1]} background with " + " and ".join(en_parts) + "."
    zh = f"图片的背景是{scene['bg'][2]}，" + "，".join(zh_parts) + "。"
    if scene["sign"]:
        en += f' A black sign at the top reads "{scene["sign"]}".'
        zh += f"顶部的黑色标志上写着“{scene['sign']}”。"
    return en, zh


def qa_pairs(scene, rng: random.Random) -> list[tuple[str, str, str, str]]:
    """(question_en, question_zh, answer_en, answer_zh) candidates for a scene."""
    en, zh = describe(scene)
    n = len(scene["objects"])
    colour, shape, place = scene["objects"][0]
    pairs = [
        ("What does this image show?", "这张图片展示了什么？", en, zh),
        (
            "How many shapes are in the picture?",
            "图片中有几个图形？",
            f"There {'is 1 shape' if n == 1 else f'are {n} shapes'} in the picture.",
            f"图片中有{n}个图形。",
        ),
        (
            f"What color is the {SHAPES[shape][0]}?",
            f"{SHAPES[shape][1]}是什么颜色的？",
            f"The {SHAPES[shape][0]} is {COLOURS[colour][1]}.",
            f"{SHAPES[shape][1]}是{COLOURS[colour][2]}的。",
        ),
        (
            f"Where is the {COLOURS[colour][1]} {SHAPES[shape][0]}?",
            f"{COLOURS[colour][2]}的{SHAPES[shape][1]}在哪里？",
            f"It is {PLACES[place][0]} of the picture.",
            f"它在图片的{PLACES[place][1]}。",
        ),
    ]
    if scene["sign"]:
        pairs.insert(
            0,
            (
                "What does the sign say?",
                "标志上写着什么？",
                f'The sign reads "{scene["sign"]}".',
                f"标志上写着“{scene['sign']}”。",
            ),
        )
    rest = pairs[1:]
    rng.shuffle(rest)
    return pairs[:1] + rest


def conversation(pairs, turns: int, with_source: bool, image_first: bool = True) -> list[dict]:
    conv = []
    for i, (qe, qz, ae, az) in enumerate(pairs[:turns]):
        tag = i == 0
        human = {"from": "human", "value": ("<image>\n" + qz if image_first else qz + "\n<image>") if tag else qz}
        gpt = {"from": "gpt", "value": az}
        if with_source:
            human["source"] = ("<image>\n" + qe if image_first else qe + "\n<image>") if tag else qe
            gpt["source"] = ae
        conv += [human, gpt]
    return conv


# Planted translation defects (caught by `clean`): each rewrites the first answer of a translated record.
TRANSLATION_DEFECTS = [
    ("preamble", lambda zh, en: "以下是翻译：" + zh),
    ("truncation", lambda zh, en: zh[: max(4, len(zh) // 2)].rstrip("，。") + "，"),
    ("untranslated", lambda zh, en: en),
    ("repetition", lambda zh, en: zh + zh.rstrip("。") * 6 + "。"),
    (
        "script",
        lambda zh, en: zh.translate(
            str.maketrans("图这张个标志红绿蓝黄紫橙写着边间圆", "圖這張個標誌紅綠藍黃紫橙寫著邊間圓")
        ),
    ),
    ("refusal", lambda zh, en: "抱歉，作为一个AI语言模型，我无法查看图片。"),
]


def build(out: Path, n_good: int = 40, seed: int = 0) -> None:
    rng = random.Random(seed)
    images = out / "images"
    images.mkdir(parents=True)
    records = []

    def save(img: Image.Image, name: str) -> str:
        img.save(images / name, quality=85) if name.endswith(".jpg") else img.save(images / name)
        return name

    for i in range(n_good + len(TRANSLATION_DEFECTS)):
        img, scene = draw_scene(rng, with_sign=i % 3 == 0)
        name = save(img, f"s{i:03d}.jpg" if i % 5 else f"s{i:03d}.png")
        turns = 1 if i % 4 else rng.choice([2, 3])
        with_source = i % 2 == 0 or i >= n_good
        conv = conversation(qa_pairs(scene, rng), turns, with_source, image_first=i % 7 != 3)
        rec = {"id": f"sample_{i:03d}", "image": name, "conversations": conv}
        if i >= n_good:  # a planted translation defect
            kind, corrupt = TRANSLATION_DEFECTS[i - n_good]
            conv[1]["value"] = corrupt(conv[1]["value"], conv[1]["source"])
            rec["defect"] = kind
        records.append(rec)
    for j, (qe, qz, ae, az) in enumerate(TEXT_ONLY):
        records.append(
            {
                "id": f"text_{j:03d}",
                "conversations": [
                    {"from": "human", "value": qz, "source": qe},
                    {"from": "gpt", "value": az, "source": ae},
                ],
            }
        )
    # A multi-image record: two pictures compared.
    a, sa = draw_scene(rng, False)
    b, sb = draw_scene(rng, False)
    records.append(
        {
            "id": "multi_000",
            "image": [save(a, "m000a.jpg"), save(b, "m000b.jpg")],
            "conversations": [
                {"from": "human", "value": "<image>\n<image>\n这两张图片的背景颜色分别是什么？"},
                {"from": "gpt", "value": f"第一张图片的背景是{sa['bg'][2]}，第二张是{sb['bg'][2]}。"},
            ],
        }
    )

    # Broken on purpose (caught by `validate`).
    def broken(rid, **kw):
        base = {
            "id": rid,
            "image": "s001.jpg",
            "conversations": [
                {"from": "human", "value": "<image>\n这张图片展示了什么？"},
                {"from": "gpt", "value": "一个图形。"},
            ],
        }
        base.update(kw)
        records.append(base)

    broken("bad_missing_image", image="does_not_exist.jpg")
    broken("bad_path_escape", image="../../etc/passwd.jpg")
    broken(
        "bad_tag_count",
        conversations=[
            {"from": "human", "value": "<image>\n<image>\n描述这张图片。"},
            {"from": "gpt", "value": "图片中有一个图形。"},
        ],
    )
    broken(
        "bad_role_order",
        conversations=[{"from": "gpt", "value": "<image>\n你好"}, {"from": "human", "value": "这是什么？"}],
    )
    broken(
        "bad_empty_answer",
        conversations=[{"from": "human", "value": "<image>\n这是什么？"}, {"from": "gpt", "value": "  "}],
    )
    truncated = (images / "s002.jpg").read_bytes()
    (images / "bad_truncated.jpg").write_bytes(truncated[: len(truncated) // 2])
    broken("bad_truncated_jpeg", image="bad_truncated.jpg")
    Image.new("RGB", (10, 10), (255, 0, 0)).save(images / "bad_tiny.png")
    broken("bad_tiny_image", image="bad_tiny.png")
    broken("sample_000")  # duplicate id
    (out / "chat.json").write_text(
        "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n]\n", encoding="utf-8"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".sample-", dir=args.out.parent))
    build(tmp, seed=args.seed)
    if args.out.exists():  # replace as a whole: never a half-written sample
        old = args.out.with_name(args.out.name + ".old")
        args.out.rename(old)
        tmp.rename(args.out)
        shutil.rmtree(old)
    else:
        tmp.rename(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
