"""`zqvl-data synth`: a learnable world — drawn images of coloured shapes and signs, chats about them in
English with faithful Chinese translations, and (optionally) one realistic translation defect per chosen record.

Every image holds 1-3 objects of one colour and shape, grouped at one position (left/right/top/bottom/center),
sometimes a sign with one English word. A tiny model can learn colour, shape, count, position and reading the
sign on CPU, so a trained model's answers can be scored against what the picture really shows. The `rich`
world's records come in four source styles (caption; 1-3 Q&A exchanges; detailed description; OCR
transcription), each turn's English kept in `source`. The default `caption` world is the one a tiny model
learns within minutes on CPU: one large object per picture and a one-line answer naming its colour and shape
("红色的圆形"), so exact match against the reference means the model saw the picture. Everything is drawn from `random.Random(f"{seed}:…")`: same arguments, same bytes.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from zqvl.data.io import atomic_open, dumps, make_temp_dir
from zqvl.data.schema import IMAGE_TAG
from zqvl.data.synth_defects import FAMILIES, inject
from zqvl.errors import UsageError
from zqvl.progress import NULL, Progress

# name: (English, Chinese, RGB)
COLOURS = {
    "red": ("red", "红色", (215, 35, 35)),
    "green": ("green", "绿色", (35, 160, 60)),
    "blue": ("blue", "蓝色", (40, 70, 210)),
    "yellow": ("yellow", "黄色", (235, 200, 30)),
    "purple": ("purple", "紫色", (130, 50, 170)),
    "orange": ("orange", "橙色", (240, 130, 20)),
}
SHAPES = {
    "circle": ("circle", "circles", "圆形"),
    "square": ("square", "squares", "正方形"),
    "triangle": ("triangle", "triangles", "三角形"),
}
COUNTS = {1: ("a", "一个"), 2: ("two", "两个"), 3: ("three", "三个")}
# name: (English phrase, Chinese place, Chinese place in "图片的…")
POSITIONS = {
    "left": ("on the left", "左边"),
    "right": ("on the right", "右边"),
    "top": ("at the top", "上方"),
    "bottom": ("at the bottom", "下方"),
    "center": ("in the center", "中间"),
}
BACKGROUNDS = {
    "white": ("white", "白色", (250, 250, 250)),
    "grey": ("light grey", "浅灰色", (215, 215, 215)),
    "beige": ("beige", "米色", (240, 228, 200)),
    "pink": ("light pink", "浅粉色", (248, 215, 222)),
}
# Sign words and what a translator would wrongly turn them into (the `ocr` defect).
SIGN_WORDS = {
    "OPEN": "营业中",
    "STOP": "停",
    "EXIT": "出口",
    "SALE": "特价",
    "CAFE": "咖啡馆",
    "PARK": "公园",
    "HOTEL": "酒店",
    "BOOKS": "书店",
    "TAXI": "出租车",
    "BANK": "银行",
    "PUSH": "推",
    "PULL": "拉",
    "FOOD": "食物",
    "SHOP": "商店",
    "MILK": "牛奶",
    "BUS": "公交车",
}
SIGN_SIDE = {"left": "right", "right": "left", "top": "bottom", "bottom": "top", "center": "top"}
STYLES = ("caption", "qa", "detail", "ocr")
WORLDS = ("caption", "rich")
DEFAULT_SIZE = {"caption": 32, "rich": 96}  # caption: already the tiny towers' 32 px, so nothing is blurred
# The caption world's questions (a few wordings, so the model must look at the picture, not the question).
CAPTION_QUESTIONS = (
    ("What is in the picture?", "图片里有什么？"),
    ("What do you see?", "你看到了什么？"),
    ("Name the colour and shape of the object.", "说出物体的颜色和形状。"),
)
SIGN_SHARE = 0.35  # images with a sign, outside the OCR style (which always has one)


@dataclass(frozen=True)
class Scene:
    colour: str
    shape: str
    count: int
    position: str
    size: str  # "small" or "large" (drawn size of the objects)
    background: str
    sign: str | None  # the English word on the sign, if any

    @property
    def sign_side(self) -> str:
        return SIGN_SIDE[self.position]


@dataclass
class SynthStats:
    records: int = 0
    styles: dict[str, int] = field(default_factory=dict)
    defects: dict[str, int] = field(default_factory=dict)


def caption_scene(rng: random.Random) -> Scene:
    """One large object, near the centre, no sign: colour and shape are the whole story."""
    return Scene(
        colour=rng.choice(list(COLOURS)),
        shape=rng.choice(list(SHAPES)),
        count=1,
        position="center",
        size="huge",
        background=rng.choice(list(BACKGROUNDS)),
        sign=None,
    )


def random_scene(rng: random.Random, style: str) -> Scene:
    sign = rng.choice(sorted(SIGN_WORDS)) if style == "ocr" or rng.random() < SIGN_SHARE else None
    return Scene(
        colour=rng.choice(list(COLOURS)),
        shape=rng.choice(list(SHAPES)),
        count=rng.randint(1, 3),
        position=rng.choice(list(POSITIONS)),
        size=rng.choice(("small", "large")),
        background=rng.choice(list(BACKGROUNDS)),
        sign=sign,
    )


# -- drawing ----------------------------------------------------------------------------------------------
def _jitter(rgb: tuple[int, int, int], rng: random.Random, amount: int) -> tuple[int, ...]:
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in rgb)


def _centres(scene: Scene, px: int, rng: random.Random) -> list[tuple[float, float]]:
    """Object centres: a column on the left/right, a row at the top/bottom/center, with a little jitter."""
    n = scene.count
    along = [(k + 1) / (n + 1) for k in range(n)]
    fixed = {"left": 0.2, "right": 0.8, "top": 0.2, "bottom": 0.8, "center": 0.5}[scene.position]
    points = [(fixed, a) if scene.position in ("left", "right") else (a, fixed) for a in along]
    wobble = 0.03
    return [((x + rng.uniform(-wobble, wobble)) * px, (y + rng.uniform(-wobble, wobble)) * px) for x, y in points]


def _draw_shape(draw, shape: str, cx: float, cy: float, r: float, fill) -> None:
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "square":
        draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
    else:
        draw.polygon([(cx, cy - r), (cx - r * 1.1, cy + r * 0.9), (cx + r * 1.1, cy + r * 0.9)], fill=fill)


def _font(px: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=max(8, px // 9))
    except (TypeError, OSError, ImportError):  # a Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _draw_sign(image, word: str, side: str, rng: random.Random) -> None:
    from PIL import ImageDraw

    px = image.width
    draw = ImageDraw.Draw(image)
    font = _font(px)
    left, top, right, bottom = draw.textbbox((0, 0), word, font=font)
    w, h = right - left + 8, bottom - top + 6
    cx = {"left": 0.2, "right": 0.8}.get(side, 0.5) * px + rng.uniform(-2, 2)
    cy = {"top": 0.14, "bottom": 0.86}.get(side, 0.5) * px + rng.uniform(-2, 2)
    box = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
    draw.rectangle(box, fill=(255, 255, 255), outline=(30, 30, 30), width=1)
    draw.text((box[0] + 4 - left, box[1] + 3 - top), word, fill=(10, 10, 10), font=font)


# Radius as a share of the side, and its random spread. The caption world's one object is big and of one size:
# a random 2-layer ViT on 4x4 patches tells triangle from circle only when the shape fills the patches (radius 0.3
# with a 10 % spread: 70 % exact answers, circle never named; 0.4 and no spread: 98 %, same 300 steps).
SIZE_RADIUS = {"small": 0.07, "large": 0.12, "huge": 0.4}
SIZE_SPREAD = {"small": 0.1, "large": 0.1, "huge": 0.0}


def render(scene: Scene, px: int, rng: random.Random) -> bytes:
    """The scene as PNG bytes (PNG: lossless, and the same bytes for the same pixels)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (px, px), _jitter(BACKGROUNDS[scene.background][2], rng, 6))
    draw = ImageDraw.Draw(image)
    fill = _jitter(COLOURS[scene.colour][2], rng, 12)
    radius = px * SIZE_RADIUS[scene.size] / max(1.0, scene.count / 2.5)
    centres = _centres(scene, px, rng)
    if scene.size == "huge":  # the caption world: shifted a little, so the model cannot learn one pixel
        centres = [(x + rng.uniform(-0.08, 0.08) * px, y + rng.uniform(-0.08, 0.08) * px) for x, y in centres]
    spread = SIZE_SPREAD[scene.size]
    for cx, cy in centres:
        _draw_shape(draw, scene.shape, cx, cy, radius * rng.uniform(1 - spread, 1 + spread), fill)
    if scene.sign:
        _draw_sign(image, scene.sign, scene.sign_side, rng)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


# -- words ------------------------------------------------------------------------------------------------
def objects_en(scene: Scene) -> str:
    singular, plural, _ = SHAPES[scene.shape]
    return f"{COUNTS[scene.count][0]} {COLOURS[scene.colour][0]} {singular if scene.count == 1 else plural}"


def objects_zh(scene: Scene) -> str:
    return f"{COUNTS[scene.count][1]}{COLOURS[scene.colour][1]}的{SHAPES[scene.shape][2]}"


def _it(scene: Scene) -> tuple[str, str, str]:
    """(It is / They are, 它 / 它们, is / are)."""
    return ("It is", "它", "is") if scene.count == 1 else ("They are", "它们", "are")


def _exchange(kind: str, scene: Scene, rng: random.Random) -> tuple[str, str, str, str]:
    """(question en, question zh, answer en, answer zh) about one property of the scene."""
    one = scene.count == 1
    it_en, it_zh, be = _it(scene)
    singular, plural, shape_zh = SHAPES[scene.shape]
    colour_en, colour_zh = COLOURS[scene.colour][:2]
    place_en, place_zh = POSITIONS[scene.position]
    if kind == "colour":
        q = (
            ("What colour is the shape?", "这个图形是什么颜色的？")
            if one
            else ("What colour are the shapes?", "这些图形是什么颜色的？")
        )
        a = rng.choice(
            [
                (f"{it_en} {colour_en}.", f"{it_zh}是{colour_zh}的。"),
                (
                    f"The {singular if one else plural} {be} {colour_en}.",
                    f"{'这个' if one else '这些'}{shape_zh}是{colour_zh}的。",
                ),
            ]
        )
    elif kind == "shape":
        q = ("What shape is it?", "它是什么形状？") if one else ("What shape are they?", "它们是什么形状？")
        a = (
            (f"It is a {singular}.", f"它是一个{shape_zh}。")
            if one
            else (f"They are {plural}.", f"它们都是{shape_zh}。")
        )
    elif kind == "count":
        q = rng.choice(
            [("How many shapes are there?", "图中有几个图形？"), ("How many shapes can you see?", "你能看到几个图形？")]
        )
        a = (
            (f"There is {objects_en(scene)}.", f"有{objects_zh(scene)}。")
            if one
            else (f"There are {objects_en(scene)}.", f"有{objects_zh(scene)}。")
        )
    elif kind == "position":
        q = (
            (f"Where is the {singular}?", f"{shape_zh}在哪里？")
            if one
            else (f"Where are the {plural}?", f"这些{shape_zh}在哪里？")
        )
        side = {"left": "on the left side", "right": "on the right side"}.get(scene.position, place_en)
        a = (f"{it_en} {side} of the image.", f"{it_zh}在图片的{place_zh}。")
    else:  # sign
        q = rng.choice(
            [
                ("What does the sign say?", "牌子上写着什么？"),
                ("What word is written on the sign?", "牌子上写的是什么词？"),
            ]
        )
        a = (f'It says "{scene.sign}".', f"上面写着“{scene.sign}”。")
    return q[0], q[1], a[0], a[1]


def _caption(scene: Scene, rng: random.Random) -> tuple[str, str, str, str]:
    q = rng.choice(
        [
            ("Write a short caption for this image.", "为这张图片写一个简短的标题。"),
            ("Describe the image in one sentence.", "用一句话描述这张图片。"),
            ("Give a brief caption for the picture.", "给这张图片一个简短的说明。"),
        ]
    )
    place_en, place_zh = POSITIONS[scene.position]
    objs = objects_en(scene)
    if scene.sign:
        a = (
            f'{objs[0].upper() + objs[1:]} {place_en}, and a sign that says "{scene.sign}".',
            f"{place_zh}有{objects_zh(scene)}，还有一块写着“{scene.sign}”的牌子。",
        )
    else:
        a = rng.choice(
            [
                (f"{objs[0].upper() + objs[1:]} {place_en} of the image.", f"图片的{place_zh}有{objects_zh(scene)}。"),
                (
                    f"{objs[0].upper() + objs[1:]} {place_en} on a plain background.",
                    f"纯色背景的{place_zh}有{objects_zh(scene)}。",
                ),
            ]
        )
    return q[0], q[1], a[0], a[1]


def _detail(scene: Scene, rng: random.Random) -> tuple[str, str, str, str]:
    q = rng.choice(
        [
            ("Describe this image in detail.", "请详细描述这张图片。"),
            ("Give a detailed description of the picture.", "请对这张图片进行详细的描述。"),
        ]
    )
    place_en, place_zh = POSITIONS[scene.position]
    bg_en, bg_zh = BACKGROUNDS[scene.background][:2]
    singular, plural, shape_zh = SHAPES[scene.shape]
    en = [f"The image shows {objects_en(scene)} {place_en} of a plain {bg_en} background."]
    zh = [f"图片中，{bg_zh}背景的{place_zh}有{objects_zh(scene)}。"]
    big = scene.size == "large"
    if scene.count == 1:
        en.append(f"The {singular} is fairly {'large' if big else 'small'}.")
        zh.append(f"这个{shape_zh}比较{'大' if big else '小'}。")
    else:
        en.append(f"The {plural} are all the same size and fairly {'large' if big else 'small'}.")
        zh.append(f"这些{shape_zh}大小相同，都比较{'大' if big else '小'}。")
    if scene.sign:
        where_en = {"left": "on the left", "right": "on the right", "top": "at the top", "bottom": "at the bottom"}[
            scene.sign_side
        ]
        en.append(f'There is also a white sign {where_en} with the word "{scene.sign}" on it.')
        zh.append(f"{POSITIONS[scene.sign_side][1]}还有一块白色的牌子，上面写着“{scene.sign}”。")
    else:
        en.append("There is no text in the image.")
        zh.append("图片中没有任何文字。")
    return q[0], q[1], " ".join(en), "".join(zh)


def _ocr(scene: Scene, rng: random.Random) -> tuple[str, str, str, str]:
    q = rng.choice(
        [
            ("What text appears in this image?", "这张图片中出现了什么文字？"),
            ("Read the text on the sign.", "读出牌子上的文字。"),
            ("Transcribe the text in the image.", "转写图片中的文字。"),
        ]
    )
    a = rng.choice(
        [
            (f'The sign reads "{scene.sign}".', f"牌子上写着“{scene.sign}”。"),
            (
                f'The only text is the word "{scene.sign}" on a white sign.',
                f"唯一的文字是白色牌子上的单词“{scene.sign}”。",
            ),
        ]
    )
    return q[0], q[1], a[0], a[1]


def _short_caption(scene: Scene, rng: random.Random) -> tuple[str, str, str, str]:
    q = rng.choice(CAPTION_QUESTIONS)
    return (
        q[0],
        q[1],
        f"a {COLOURS[scene.colour][0]} {SHAPES[scene.shape][0]}",
        f"{COLOURS[scene.colour][1]}的{SHAPES[scene.shape][2]}",
    )


def conversation(scene: Scene, style: str, rng: random.Random) -> list[dict]:
    """Canonical turns ({from, value, source}); `<image>` opens the first question."""
    if style == "short":
        pairs = [_short_caption(scene, rng)]
    elif style == "qa":
        kinds = ["colour", "shape", "count", "position"] + (["sign"] if scene.sign else [])
        pairs = [_exchange(k, scene, rng) for k in rng.sample(kinds, rng.randint(1, 3))]
    else:
        pairs = [{"caption": _caption, "detail": _detail, "ocr": _ocr}[style](scene, rng)]
    turns = []
    for i, (q_en, q_zh, a_en, a_zh) in enumerate(pairs):
        tag = IMAGE_TAG + "\n" if i == 0 else ""
        turns.append({"from": "human", "value": tag + q_zh, "source": tag + q_en})
        turns.append({"from": "gpt", "value": a_zh, "source": a_en})
    return turns


# -- the set ----------------------------------------------------------------------------------------------
def defect_plan(records: int, rate: float, seed: int) -> dict[int, str]:
    """Which record indices get a defect, and the family tried first (families take turns, so each is seen)."""
    k = round(records * rate)
    chosen = sorted(random.Random(f"{seed}:defects").sample(range(records), k))
    order = list(FAMILIES)
    random.Random(f"{seed}:families").shuffle(order)
    return {index: order[j % len(order)] for j, index in enumerate(chosen)}


def synthesize(
    out: str | Path,
    records: int,
    seed: int,
    defects: float = 0.0,
    size: int | None = None,
    progress: Progress = NULL,
    world: str = "caption",
) -> SynthStats:
    """Write the canonical DIR `out` (chat.json, images/, labels.json); it appears atomically."""
    out = Path(out)
    if world not in WORLDS:
        raise UsageError(f"--world must be one of {', '.join(WORLDS)}")
    size = DEFAULT_SIZE[world] if size is None else size
    if records < 1:
        raise UsageError("--records must be >= 1")
    if not 0.0 <= defects <= 1.0:
        raise UsageError("--defects must be a share in 0..1")
    if size < 32:
        raise UsageError("--size must be at least 32 pixels")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out}: already exists and is not empty (synth never overwrites)")
    plan = defect_plan(records, defects, seed)
    stats = SynthStats()
    labels: dict[str, str] = {}
    tmp = make_temp_dir(out)
    try:
        (tmp / "images").mkdir()
        progress.stage("synth", records)
        with open(tmp / "chat.json", "w", encoding="utf-8") as fh:
            fh.write("[")
            for i in range(records):
                rng = random.Random(f"{seed}:{i}")
                if world == "caption":
                    style, scene = "short", caption_scene(rng)
                else:
                    style = STYLES[rng.randrange(len(STYLES))]
                    scene = random_scene(rng, style)
                rid = f"synth_{i:06d}"
                image = f"{rid}.png"
                (tmp / "images" / image).write_bytes(render(scene, size, rng))
                turns = conversation(scene, style, rng)
                if i in plan:
                    family = inject(turns, scene_facts(scene), plan[i], random.Random(f"{seed}:{i}:defect"))
                    labels[rid] = family
                    stats.defects[family] = stats.defects.get(family, 0) + 1
                record = {"id": rid, "image": image, "conversations": turns}
                fh.write(("\n" if i == 0 else ",\n") + dumps(record))
                stats.styles[style] = stats.styles.get(style, 0) + 1
                progress.advance(1)
            fh.write("\n]\n")
        with atomic_open(tmp / "labels.json") as fh:
            fh.write(json.dumps(labels, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
        stats.records = records
        if out.exists():
            out.rmdir()  # empty (checked above): the rename needs the name free
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return stats


def scene_facts(scene: Scene) -> dict:
    """What the defect injector may need to know about the picture (kept as plain data: no import back)."""
    return {
        "count": scene.count,
        "count_zh": COUNTS[scene.count][1],
        "sign": scene.sign,
        "sign_zh": SIGN_WORDS.get(scene.sign or "", ""),
    }
