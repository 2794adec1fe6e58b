"""Hand-written translated records for the clean tests (data for test_clean_*.py), not the dev set's wording.

CLEAN holds hard negatives (good translations that look suspicious: brand names, code, quoted OCR text,
units, conversions, short answers, long markdown, apologies that really are in the source). DEFECTS holds
one planted defect each, tagged with the family expected to catch it. Each case is (name, family, record).
"""

from __future__ import annotations

from helpers.clean_records import rec

LONG_MD_EN = """## Overview
The dashboard summarises **three months** of sales for the online store.

### Key numbers
| Month | Orders | Revenue |
|---|---|---|
| April | 1,240 | $18,600 |
| May | 1,515 | $22,730 |
| June | 1,980 | $29,700 |

### What stands out
1. Orders grew every month, by about 22% and then 31%.
2. The average order value stayed close to $15.
3. Mobile traffic overtook desktop in June.

To reproduce the chart, run:

```bash
python plot_sales.py --months 3 --out sales.png
```

The script reads `sales.csv` and writes the figure next to it."""

LONG_MD_ZH = """## 概览
该仪表板汇总了这家网店**三个月**的销售情况。

### 关键数据
| 月份 | 订单数 | 营收 |
|---|---|---|
| 4月 | 1,240 | $18,600 |
| 5月 | 1,515 | $22,730 |
| 6月 | 1,980 | $29,700 |

### 值得注意的地方
1. 订单量逐月增长，增幅分别约为22%和31%。
2. 平均客单价始终在15美元左右。
3. 6月份移动端流量超过了桌面端。

要重新生成这张图表，请运行：

```bash
python plot_sales.py --months 3 --out sales.png
```

该脚本会读取 `sales.csv`，并把图表保存在同一目录下。"""

CODE_EN = """The function adds tax to a price:

```python
# add 8% sales tax
def with_tax(price):
    return round(price * 1.08, 2)  # keep cents
```

For example, `with_tax(10)` returns `10.8`."""

CODE_ZH = """这个函数会在价格上加上税费：

```python
# 加上8%的销售税
def with_tax(price):
    return round(price * 1.08, 2)  # 保留到分
```

例如，`with_tax(10)` 会返回 `10.8`。"""

NESTED_EN = """Here are the assembly steps from the manual:

1. Attach the legs to the tabletop.
   - Use the four long screws.
   - Tighten them by hand first.
2. Flip the table over.
3. Check that it does not wobble."""

NESTED_ZH = """下面是说明书上的组装步骤：

1. 把桌腿安装到桌面上。
   - 使用四颗长螺丝。
   - 先用手拧紧。
2. 把桌子翻过来。
3. 检查桌子是否晃动。"""

CLEAN = [
    (
        "brand phone",
        None,
        rec(
            "c01",
            ("这是什么手机？", "What phone is this?"),
            ("这是一部原色钛金属款的iPhone 15 Pro Max。", "It's an iPhone 15 Pro Max in Natural Titanium."),
        ),
    ),
    (
        "brand laptop",
        None,
        rec(
            "c02",
            ("桌上放的是什么电脑？", "What computer is on the desk?"),
            (
                "这是一台联想ThinkPad X1 Carbon笔记本电脑，屏幕尺寸为14英寸。",
                "It is a Lenovo ThinkPad X1 Carbon laptop with a 14-inch screen.",
            ),
        ),
    ),
    (
        "brand car",
        None,
        rec(
            "c03",
            ("描述一下这张照片。", "Describe this photo."),
            (
                "一辆白色的Tesla Model 3停在超级充电站旁，充电线已经插好。",
                "A white Tesla Model 3 is parked at a Supercharger station with the cable plugged in.",
            ),
        ),
    ),
    (
        "quoted OCR with gloss",
        None,
        rec(
            "c04",
            ("标志上写着什么？", "What does the sign say?"),
            ("标志上写着“NO ENTRY”（禁止入内）。", 'The sign says "NO ENTRY".'),
        ),
    ),
    (
        "several quotes",
        None,
        rec(
            "c05",
            ("菜单上有哪些菜？", "What dishes are on the menu?"),
            (
                "菜单上有“Pad Thai”、“Green Curry”和“Mango Sticky Rice”。",
                'The menu lists "Pad Thai", "Green Curry" and "Mango Sticky Rice".',
            ),
        ),
    ),
    (
        "OCR block on lines",
        None,
        rec(
            "c06",
            ("描述这张图片并转写其中的文字。", "Describe the image and transcribe the text."),
            (
                "描述：一家服装店的橱窗上贴着一张大海报。\n文字：\nGRAND OPENING\nSaturday 10 AM\n50% off all items",
                "DESCRIPTION: A large poster in the window of a clothing "
                "store.\nTEXT:\nGRAND OPENING\n"
                "Saturday 10 AM\n50% off all items",
            ),
        ),
    ),
    (
        "code with translated comments",
        None,
        rec("c07", ("这段代码做什么？", "What does this code do?"), (CODE_ZH, CODE_EN)),
    ),
    (
        "shell command in prose",
        None,
        rec(
            "c08",
            ("怎么修复这个错误？", "How do I fix this error?"),
            (
                "你可以在终端中运行 pip install --upgrade pip 来解决这个问题。",
                "You can fix it by running pip install --upgrade pip in the terminal.",
            ),
        ),
    ),
    (
        "url and email",
        None,
        rec(
            "c09",
            ("我在哪里可以了解更多？", "Where can I learn more?"),
            (
                "请访问 https://example.com/docs 了解详情，或发邮件至 help@example.com。",
                "Visit https://example.com/docs for details or email help@example.com.",
            ),
        ),
    ),
    (
        "metric units",
        None,
        rec(
            "c10",
            ("这瓶水有多少？", "How much water is in the bottle?"),
            (
                "这个瓶子可装500毫升水，装满后重约0.5公斤。",
                "The bottle holds 500 ml of water and weighs about 0.5 kg when full.",
            ),
        ),
    ),
    (
        "imperial units",
        None,
        rec(
            "c11",
            ("这条步道有多长？", "How long is the trail?"),
            (
                "根据指示牌，这条步道长3.2英里，累计爬升800英尺。",
                "According to the sign, the trail is 3.2 miles long and climbs 800 feet.",
            ),
        ),
    ),
    (
        "both temperatures",
        None,
        rec(
            "c12",
            ("天气怎么样？", "What is the weather like?"),
            ("气温75°F（24°C），阳光明媚。", "It's 75°F (24°C) and sunny."),
        ),
    ),
    (
        "speed kept English",
        None,
        rec(
            "c13",
            ("限速是多少？", "What is the speed limit?"),
            (
                "限速标志显示为65 mph，也就是时速约105公里。",
                "The speed limit sign shows 65 mph, which is about 105 km/h.",
            ),
        ),
    ),
    (
        "date reformatted",
        None,
        rec(
            "c14",
            ("收据是哪天开的？", "What date is on the receipt?"),
            ("收据上的日期是2024年3月15日。", "The receipt is dated 03/15/2024."),
        ),
    ),
    (
        "clock times in words",
        None,
        rec(
            "c15",
            ("这家店几点营业？", "What are the store's hours?"),
            ("这家店上午9点开门，晚上9点半关门。", "The store opens at 9 am and closes at 9:30 pm."),
        ),
    ),
    (
        "thousands as wan",
        None,
        rec(
            "c16",
            ("这座体育场能容纳多少人？", "How many people does the stadium hold?"),
            ("这座体育场大约可容纳7.5万人。", "The stadium holds about 75,000 people."),
        ),
    ),
    (
        "millions as wan",
        None,
        rec(
            "c17",
            ("这个视频有多少播放量？", "How many views does the video have?"),
            ("屏幕显示这段视频已有230万次观看。", "The screen shows that the video has 2.3 million views."),
        ),
    ),
    (
        "number word",
        None,
        rec(
            "c18",
            ("蛋糕上有几根蜡烛？", "How many candles are on the cake?"),
            ("蛋糕上插着十一根蜡烛。", "There are eleven candles on the cake."),
        ),
    ),
    (
        "fraction in words",
        None,
        rec(
            "c19",
            ("需要加多少糖？", "How much sugar do I add?"),
            ("食谱上写着加入四分之一杯糖。", "The recipe says to add 1/4 cup of sugar."),
        ),
    ),
    ("short yes", None, rec("c20", ("这是一只狗吗？", "Is this a dog?"), ("是的。", "Yes, it is."))),
    ("short count", None, rec("c21", ("有几个人？", "How many people are there?"), ("两个。", "Two."))),
    ("short colour", None, rec("c22", ("门是什么颜色的？", "What color is the door?"), ("蓝色。", "Blue."))),
    (
        "apology in source",
        None,
        rec(
            "c23",
            ("车牌号是多少？", "What is the license plate number?"),
            (
                "抱歉，车牌太模糊了，我无法看清上面的字。",
                "Sorry, the plate is too blurry, so I can't read the characters on it.",
            ),
        ),
    ),
    (
        "AI disclaimer in source",
        None,
        rec(
            "c24",
            ("哪件外套更好看？", "Which coat looks better?"),
            (
                "作为AI，我没有个人偏好，不过很多人会觉得蓝色那件更显优雅。",
                "As an AI, I don't have personal preferences, but many people would find the blue one more elegant.",
            ),
        ),
    ),
    (
        "note in source",
        None,
        rec(
            "c25",
            ("价格是多少？", "What is the price?"),
            (
                "标价是29美元。注意：各门店的价格可能有所不同。",
                "The tag says $29. Note: prices may vary between stores.",
            ),
        ),
    ),
    (
        "meaning of a word",
        None,
        rec(
            "c26",
            ("“RSVP”是什么意思？", 'What does "RSVP" mean?'),
            (
                "RSVP是法语“répondez s'il vous plaît”的缩写，意思是“请回复”。",
                'RSVP stands for "répondez s\'il vous plaît", which means "please reply".',
            ),
        ),
    ),
    (
        "long markdown",
        None,
        rec("c27", ("总结一下这个仪表板。", "Summarize this dashboard."), (LONG_MD_ZH, LONG_MD_EN)),
    ),
    ("nested list", None, rec("c28", ("怎么组装这张桌子？", "How do I assemble this table?"), (NESTED_ZH, NESTED_EN))),
    (
        "answer ends in URL",
        None,
        rec(
            "c29",
            ("二维码指向哪个网址？", "Which URL does the QR code point to?"),
            ("它指向 https://shop.example.org/sale", "It points to https://shop.example.org/sale"),
        ),
    ),
    (
        "repeated chant in image",
        None,
        rec(
            "c30",
            ("横幅上写着什么？", "What does the banner say?"),
            ("横幅上写着“SALE SALE SALE”，字母是红色的。", 'The banner says "SALE SALE SALE" in red letters.'),
        ),
    ),
    (
        "natural reduplication",
        None,
        rec(
            "c31",
            ("孩子们在做什么？", "What are the children doing?"),
            (
                "孩子们高高兴兴地绕着大树一圈又一圈地跑，跑累了就停下来歇一歇。",
                "The children are happily running around the big tree again and again, "
                "stopping to rest when they get tired.",
            ),
        ),
    ),
    (
        "duplicate lines in source",
        None,
        rec(
            "c32",
            ("列出小票上的商品。", "List the items on the receipt."),
            ("- 咖啡 $3.00\n- 咖啡 $3.00\n- 百吉饼 $2.25", "- Coffee $3.00\n- Coffee $3.00\n- Bagel $2.25"),
        ),
    ),
    (
        "table with repeated cells",
        None,
        rec(
            "c33",
            ("把营业时间整理成表格。", "Put the opening hours in a table."),
            (
                "| 日期 | 时间 |\n|---|---|\n| 周一 | 休息 |\n| 周二 | 休息 |\n| 周三 | 10:00-17:00 |",
                "| Day | Hours |\n|---|---|\n| Monday | Closed |\n| Tuesday | Closed |\n| Wednesday | 10:00-17:00 |",
            ),
        ),
    ),
    (
        "traditional text quoted from image",
        None,
        rec(
            "c34",
            ("招牌上写的是什么？", "What is written on the sign?"),
            ("招牌上写着“歡迎光臨”，意思是欢迎光临。", 'The sign says "歡迎光臨", which means "welcome".'),
        ),
    ),
    (
        "tag after question",
        None,
        rec(
            "c35",
            ("图片里有什么？\n<image>", "What's in the picture?\n<image>"),
            ("一只白色的猫趴在窗台上晒太阳。", "A white cat is lying on the windowsill in the sun."),
        ),
    ),
    (
        "two images",
        None,
        rec(
            "c36",
            (
                "<image>\n<image>\n这两张图片有什么不同？",
                "<image>\n<image>\nWhat is different between the two pictures?",
            ),
            (
                "第一张图里的杯子是满的，第二张图里的杯子是空的。",
                "In the first picture the cup is full, and in the second it is empty.",
            ),
            image=["c36a.jpg", "c36b.jpg"],
        ),
    ),
    (
        "text only",
        None,
        rec(
            "c37",
            ("用一句话解释什么是光合作用。", "Explain photosynthesis in one sentence."),
            (
                "光合作用是植物利用阳光把水和二氧化碳转化为糖和氧气的过程。",
                "Photosynthesis is the process by which plants use sunlight to turn water and carbon "
                "dioxide into sugar and oxygen.",
            ),
            image=None,
        ),
    ),
    (
        "AI mentioned, not self",
        None,
        rec(
            "c38",
            ("这个机器人在做什么？", "What is the robot doing?"),
            (
                "这个机器人是一个AI导览助手，正在大厅里迎接访客。",
                "The robot is an AI guide greeting visitors in the lobby.",
            ),
        ),
    ),
    (
        "age range",
        None,
        rec(
            "c39",
            ("这个玩具适合几岁的孩子？", "What ages is the toy for?"),
            ("包装上写着适合3至5岁的儿童。", "The box says it is for children aged 3-5."),
        ),
    ),
    (
        "negative balance",
        None,
        rec(
            "c40",
            ("账户余额是多少？", "What is the account balance?"),
            ("账户余额为-25.40美元。", "The account balance is -$25.40."),
        ),
    ),
    (
        "identifier numbers",
        None,
        rec(
            "c41",
            ("这是什么地方？", "What is this place?"),
            (
                "这是一个新冠病毒检测点，旁边停着一辆印有4K标志的电视台转播车。",
                "It's a COVID-19 testing site, with a TV truck marked 4K parked next to it.",
            ),
        ),
    ),
    (
        "decade",
        None,
        rec(
            "c42",
            ("这辆车是什么年代的？", "What era is the car from?"),
            ("它看起来像是20世纪60年代的老爷车。", "It looks like a classic car from the 1960s."),
        ),
    ),
    (
        "24/7",
        None,
        rec(
            "c43",
            ("这家店营业到几点？", "When does the store close?"),
            ("门上的标志显示这家店全天候营业。", "The sign on the door says the store is open 24/7."),
        ),
    ),
    (
        "24h clock",
        None,
        rec(
            "c44",
            ("航班几点起飞？", "When does the flight leave?"),
            ("航班将于14:45起飞，登机口为B12。", "The flight departs at 2:45 PM from gate B12."),
        ),
    ),
    (
        "month name may",
        None,
        rec(
            "c45",
            ("节日是什么时候？", "When is the festival?"),
            (
                "节日从5月3日持续到5月5日，不过周末可能会下雨。",
                "The festival runs from May 3 to May 5, though it may rain at the weekend.",
            ),
        ),
    ),
    (
        "ends with a table",
        None,
        rec(
            "c46",
            ("把比分整理成表格。", "Show the scores as a table."),
            (
                "| 队伍 | 得分 |\n|---|---|\n| Hawks | 3 |\n| Owls | 1 |",
                "| Team | Score |\n|---|---|\n| Hawks | 3 |\n| Owls | 1 |",
            ),
        ),
    ),
    (
        "ends with an emoji",
        None,
        rec(
            "c47",
            ("这家咖啡馆怎么样？", "How is this café?"),
            ("看起来非常温馨，很适合周末来坐坐！😊", "It looks very cozy and perfect for a weekend visit! 😊"),
        ),
    ),
    (
        "quote punctuation full-width",
        None,
        rec(
            "c48",
            ("地上的牌子写着什么？", "What does the sign on the floor say?"),
            ("牌子上写着“Caution：Wet Floor”。", 'The sign reads "Caution: Wet Floor".'),
        ),
    ),
    (
        "quote with ellipsis",
        None,
        rec(
            "c49",
            ("屏幕上显示什么？", "What is on the screen?"),
            (
                "屏幕上显示“Loading…”，进度条停在一半。",
                'The screen says "Loading..." and the progress bar is stuck halfway.',
            ),
        ),
    ),
    (
        "UI label unquoted",
        None,
        rec(
            "c50",
            ("下一步该点哪里？", "Where do I click next?"),
            (
                "点击右下角的 Save Changes 按钮，然后关闭窗口。",
                "Click the Save Changes button in the bottom right corner, then close the window.",
            ),
        ),
    ),
    (
        "technical term",
        None,
        rec(
            "c51",
            ("这张幻灯片讲的是什么？", "What is this slide about?"),
            (
                "这张幻灯片介绍了如何用 machine learning 给照片自动分类。",
                "The slide explains how machine learning can sort photos automatically.",
            ),
        ),
    ),
    (
        "multi turn 6",
        None,
        rec(
            "c52",
            ("这是什么鸟？", "What bird is this?"),
            ("这是一只知更鸟。", "It's a robin."),
            ("它在做什么？", "What is it doing?"),
            ("它正在草地上找虫子吃。", "It is looking for worms in the grass."),
            ("天气看起来怎么样？", "What does the weather look like?"),
            ("地面是湿的，看起来刚下过雨。", "The ground is wet, so it looks like it just rained."),
        ),
    ),
    (
        "dimensions",
        None,
        rec(
            "c53",
            ("这个箱子有多大？", "How big is the box?"),
            (
                "标签显示箱子尺寸为40 x 30 x 20厘米，限重15公斤。",
                "The label says the box is 40 x 30 x 20 cm with a 15 kg weight limit.",
            ),
        ),
    ),
    (
        "percent growth",
        None,
        rec(
            "c54",
            ("图表显示了什么？", "What does the chart show?"),
            (
                "图表显示，第二季度的营收增长了3.5%，达到1.2亿美元。",
                "The chart shows that revenue grew 3.5% in the second quarter to $120 million.",
            ),
        ),
    ),
    (
        "hope in source",
        None,
        rec(
            "c55",
            ("我应该买哪个？", "Which one should I buy?"),
            (
                "如果你经常出差，轻一点的那款更合适。希望这对你有所帮助！",
                "If you travel often, the lighter one is a better fit. I hope this helps!",
            ),
        ),
    ),
    (
        "here is in source",
        None,
        rec(
            "c56",
            ("给我一个购物清单。", "Give me a shopping list."),
            (
                "好的，以下是根据冰箱里的食材整理的清单：\n\n- 鸡蛋\n- 牛奶\n- 菠菜",
                "Sure, here is a list based on what is in the fridge:\n\n- Eggs\n- Milk\n- Spinach",
            ),
        ),
    ),
    (
        "sign in Spanish translated in source",
        None,
        rec(
            "c57",
            ("这个标志是什么意思？", "What does this sign mean?"),
            (
                "标志上写着“Prohibido fumar”，翻译过来就是“禁止吸烟”。",
                'The sign says "Prohibido fumar", which translates to "No smoking".',
            ),
        ),
    ),
    (
        "English title kept",
        None,
        rec(
            "c58",
            ("屏幕上在放什么电影？", "What movie is on the screen?"),
            (
                "屏幕上正在播放《The Grand Budapest Hotel》的片头字幕。",
                "The opening credits of The Grand Budapest Hotel are playing on the screen.",
            ),
        ),
    ),
    (
        "fahrenheit to celsius",
        None,
        rec(
            "c59",
            ("烤箱温度是多少？", "What is the oven temperature?"),
            ("烤箱设定在425°F，约合220°C。", "The oven is set to 425°F, about 220°C."),
        ),
    ),
    ("short no", None, rec("c60", ("门开着吗？", "Is the door open?"), ("没有，门是关着的。", "No, it's closed."))),
    (
        "meaning of a phrase",
        None,
        rec(
            "c61",
            ("“Bon appétit”是什么意思？", 'What does "Bon appétit" mean?'),
            ("它的意思是“祝你用餐愉快”。", 'It means "Enjoy your meal."'),
        ),
    ),
    (
        "okay thanks",
        None,
        rec(
            "c62",
            ("蛋糕是什么口味的？", "What flavor is the cake?"),
            ("是柠檬味的。", "It's lemon."),
            ("好的，谢谢！", "Okay, thanks!"),
            ("不客气！", "You're welcome!"),
        ),
    ),
    (
        "url at sentence end",
        None,
        rec(
            "c63",
            ("海报上的网址是什么？", "What is the web address on the poster?"),
            ("网址是 www.cityzoo.org。", "The address is www.cityzoo.org."),
        ),
    ),
    (
        "heading levels kept",
        None,
        rec(
            "c64",
            ("总结一下这份菜单。", "Summarize the menu."),
            (
                "# 午餐菜单\n## 主菜\n- 烤鸡\n- 蔬菜汤\n## 甜点\n- 苹果派",
                "# Lunch Menu\n## Mains\n- Roast chicken\n- Vegetable soup\n## Desserts\n- Apple pie",
            ),
        ),
    ),
    (
        "list items without full stops",
        None,
        rec(
            "c66",
            ("泳池有哪些规定？", "What are the pool rules?"),
            (
                "泳池规定如下：\n\n1、禁止跳水\n2、入池前请先淋浴",
                "The pool rules are:\n\n1. No diving.\n2. Shower before entering the pool.",
            ),
        ),
    ),
    (
        "ends with a model name",
        None,
        rec(
            "c65",
            ("这是什么相机？", "What camera is this?"),
            ("从机身上的标志来看，这是一台Canon EOS R6", "Judging by the logo on the body, it is a Canon EOS R6."),
        ),
    ),
]


def _d(name, family, record):
    return (name, family, record)


DEFECTS = [
    _d(
        "lead-in 以下为",
        "preamble",
        rec(
            "x01",
            ("描述这张图片。", "Describe this image."),
            (
                "以下为中文译文：\n一条小船停在平静的湖面上，远处是连绵的群山。",
                "A small boat sits on a calm lake with mountains in the distance.",
            ),
        ),
    ),
    _d(
        "English lead-in",
        "preamble",
        rec(
            "x02",
            ("这是哪里？", "Where is this?"),
            (
                "Sure, here's the Chinese translation: 这是一个繁忙的火车站大厅。",
                "This is the hall of a busy train station.",
            ),
        ),
    ),
    _d(
        "translator note",
        "preamble",
        rec(
            "x03",
            ("这是什么牌子的鞋？", "What brand are the shoes?"),
            (
                "这是一双Converse帆布鞋。（译者注：品牌名保留英文原文。）",
                "They are a pair of Converse canvas sneakers.",
            ),
        ),
    ),
    _d(
        "closing offer",
        "preamble",
        rec(
            "x04",
            ("桌上有什么？", "What is on the table?"),
            (
                "桌上有一台笔记本电脑和一杯咖啡。如果还有其他问题，欢迎随时提问！",
                "There is a laptop and a cup of coffee on the table.",
            ),
        ),
    ),
    _d(
        "chatty opener",
        "preamble",
        rec(
            "x05",
            ("描述这张图片。", "Describe this image."),
            (
                "当然可以！这是图片的描述：\n一只小狗在沙滩上追着海浪跑。",
                "A puppy is chasing the waves on a sandy beach.",
            ),
        ),
    ),
    _d(
        "refusal",
        "refusal",
        rec(
            "x06",
            ("这个人在做什么？", "What is the man doing?"),
            ("很抱歉，我不能回答这个问题。", "He is repairing the roof of a wooden shed."),
        ),
    ),
    _d(
        "AI cannot see",
        "refusal",
        rec(
            "x07",
            ("这张图里有什么？", "What is in this image?"),
            ("作为一款人工智能助手，我无法看到图片内容。", "A basket of ripe peaches on a kitchen table."),
        ),
    ),
    _d(
        "English refusal",
        "refusal",
        rec(
            "x08",
            ("标语写着什么？", "What does the slogan say?"),
            ("I cannot help with translating this content.", 'The slogan says "Think Different".'),
        ),
    ),
    _d(
        "sensitive claim",
        "refusal",
        rec(
            "x09",
            ("描述这个场景。", "Describe the scene."),
            ("此内容包含不适当的信息，无法翻译。", "Two firefighters are spraying water on a burning car."),
        ),
    ),
    _d(
        "ends on a comma",
        "truncation",
        rec(
            "x10",
            ("描述这张图片。", "Describe this image."),
            (
                "一位老人坐在公园的长椅上喂鸽子，",
                "An old man sits on a park bench feeding pigeons, while children play nearby.",
            ),
        ),
    ),
    _d(
        "ends mid-word",
        "truncation",
        rec(
            "x11",
            ("描述这张图片。", "Describe this image."),
            (
                "厨房的台面上摆着新鲜的蔬菜，一把菜刀放在砧板旁边，锅里的水正",
                "Fresh vegetables are laid out on the kitchen counter, a knife rests next "
                "to the cutting board, and water is boiling in the pot.",
            ),
        ),
    ),
    _d(
        "unclosed quote",
        "truncation",
        rec(
            "x12",
            ("招牌上写着什么？", "What does the sign say?"),
            ("招牌上写着“FRESH", 'The sign says "FRESH FISH DAILY".'),
        ),
    ),
    _d(
        "half dropped",
        "truncation",
        rec(
            "x13",
            ("详细描述这张图片。", "Describe this image in detail."),
            (
                "一座古老的石桥横跨在小河上。",
                "An old stone bridge spans a narrow river. Ivy climbs up its arches, and a "
                "couple is leaning on the railing to watch the ducks below. On the far bank, "
                "a row of colorful houses reflects in the still water, and a cyclist is "
                "crossing from the other side.",
            ),
        ),
    ),
    _d(
        "word loop",
        "repetition",
        rec(
            "x14",
            ("孩子们在干什么？", "What are the kids doing?"),
            ("孩子们在院子里玩耍玩耍玩耍玩耍玩耍玩耍玩耍。", "The kids are playing in the yard."),
        ),
    ),
    _d(
        "sentence thrice apart",
        "repetition",
        rec(
            "x15",
            ("描述这张图片。", "Describe this image."),
            (
                "一只猫坐在窗台上看着外面。窗外正在下雨。一只猫坐在窗台上看着外面。"
                "雨点打在玻璃上。一只猫坐在窗台上看着外面。",
                "A cat sits on the windowsill looking out. It is raining outside. Raindrops hit the glass.",
            ),
        ),
    ),
    _d(
        "table row loop",
        "repetition",
        rec(
            "x16",
            ("列出价格。", "List the prices."),
            (
                "| 商品 | 价格 |\n|---|---|\n| 苹果 | $1 |\n| 香蕉 | $2 |\n| 香蕉 | $2 |\n| 香蕉 | $2 |\n| 香蕉 | $2 |",
                "| Item | Price |\n|---|---|\n| Apple | $1 |\n| Banana | $2 |",
            ),
        ),
    ),
    _d(
        "English answer",
        "untranslated",
        rec(
            "x17",
            ("这只猫是什么颜色的？", "What color is the cat?"),
            ("The cat is black with a white patch on its chest.", "The cat is black with a white patch on its chest."),
        ),
    ),
    _d(
        "English question",
        "untranslated",
        rec(
            "x18",
            ("Where are the people standing?", "Where are the people standing?"),
            ("他们站在一座桥上看日落。", "They are standing on a bridge watching the sunset."),
        ),
    ),
    _d(
        "English tail clause",
        "untranslated",
        rec(
            "x19",
            ("描述这张图片。", "Describe this image."),
            (
                "一名滑板少年在广场上练习跳跃，while his friends film him with a phone.",
                "A teenage skateboarder is practicing jumps in the square while his friends film him with a phone.",
            ),
        ),
    ),
    _d(
        "English list item",
        "untranslated",
        rec(
            "x20",
            ("列出规则。", "List the rules."),
            (
                "泳池规则如下：\n\n- 禁止奔跑\n- Children must be supervised at all times\n- 禁止饮食",
                "The pool rules are:\n\n- No running\n- Children must be supervised at all times\n- No food or drink",
            ),
        ),
    ),
    _d(
        "OCR slogan translated",
        "ocr",
        rec(
            "x21",
            ("衣服上印着什么？", "What is printed on the shirt?"),
            ("衬衫上印着“只管去做”。", 'The shirt says "JUST DO IT".'),
        ),
    ),
    _d(
        "OCR street name translated",
        "ocr",
        rec(
            "x22",
            ("路牌上写着什么？", "What does the street sign say?"),
            ("路牌上写着“榆树街”。", 'The street sign reads "Elm Street".'),
        ),
    ),
    _d(
        "OCR text line translated",
        "ocr",
        rec(
            "x23",
            ("描述并转写文字。", "Describe and transcribe the text."),
            (
                "描述：一张演唱会门票。\n文字：夏日音乐节 / 第二天 / 入场券",
                "DESCRIPTION: A concert ticket.\nTEXT: SUMMER BEATS / DAY 2 / ADMIT ONE",
            ),
        ),
    ),
    _d(
        "price digits",
        "numbers",
        rec("x24", ("这本书多少钱？", "How much is the book?"), ("这本书售价12.05美元。", "The book costs $12.50.")),
    ),
    _d(
        "hour changed",
        "numbers",
        rec(
            "x25",
            ("会议几点开始？", "When does the meeting start?"),
            ("会议下午4点开始。", "The meeting starts at 3 pm."),
        ),
    ),
    _d(
        "year changed",
        "numbers",
        rec(
            "x26",
            ("这座桥是哪年建成的？", "When was the bridge built?"),
            ("牌匾上写着这座桥建于1989年。", "The plaque says the bridge was built in 1998."),
        ),
    ),
    _d(
        "km to m",
        "numbers",
        rec(
            "x27",
            ("离海滩还有多远？", "How far is the beach?"),
            ("路标显示距离海滩还有2米。", "The road sign says the beach is 2 km away."),
        ),
    ),
    _d(
        "count word changed",
        "numbers",
        rec(
            "x28",
            ("有几只鸭子？", "How many ducks are there?"),
            ("池塘里有六只鸭子。", "There are seven ducks in the pond."),
        ),
    ),
    _d(
        "minus lost",
        "numbers",
        rec(
            "x29",
            ("冷库温度是多少？", "What is the freezer temperature?"),
            ("显示屏上的温度是18°C。", "The display shows -18°C."),
        ),
    ),
    _d(
        "month changed",
        "numbers",
        rec(
            "x30",
            ("展览什么时候开幕？", "When does the exhibition open?"),
            ("展览将于7月5日开幕。", "The exhibition opens on June 5."),
        ),
    ),
    _d(
        "percent in words changed",
        "numbers",
        rec("x31", ("打几折？", "What is the discount?"), ("所有商品一律优惠百分之四。", "Everything is 40% off.")),
    ),
    _d(
        "tag mangled 图",
        "placeholder",
        rec("x32", ("<图>\n这是什么动物？", "<image>\nWhat animal is this?"), ("这是一只考拉。", "It's a koala.")),
    ),
    _d(
        "tag moved to answer",
        "placeholder",
        rec(
            "x33", ("这是什么动物？", "<image>\nWhat animal is this?"), ("<image>\n这是一只刺猬。", "It's a hedgehog.")
        ),
    ),
    _d(
        "tag capitalised",
        "placeholder",
        rec(
            "x34",
            ("<Image>\n这是什么水果？", "<image>\nWhat fruit is this?"),
            ("这是一个火龙果。", "It's a dragon fruit."),
        ),
    ),
    _d(
        "identifier translated",
        "markdown",
        rec(
            "x35",
            ("这段代码有什么用？", "What does this code do?"),
            (
                "它计算两个数的和：\n\n```python\ndef 求和(a, b):\n    return a + b\n```",
                "It adds two numbers:\n\n```python\ndef add(a, b):\n    return a + b\n```",
            ),
        ),
    ),
    _d(
        "list to prose",
        "markdown",
        rec(
            "x36",
            ("需要准备什么？", "What do I need to bring?"),
            ("你需要带：护照、充电器和雨伞。", "You need to bring:\n\n- Passport\n- Charger\n- Umbrella"),
        ),
    ),
    _d(
        "heading lost",
        "markdown",
        rec(
            "x37",
            ("总结这篇文章。", "Summarize the article."),
            (
                "结论\n文章认为城市需要更多的自行车道。",
                "## Conclusion\nThe article argues that cities need more bike lanes.",
            ),
        ),
    ),
    _d(
        "closing fence lost",
        "markdown",
        rec(
            "x38",
            ("怎么查看版本？", "How do I check the version?"),
            (
                "运行下面的命令：\n\n```bash\nnode --version\n\n它会打印已安装的版本号。",
                "Run this command:\n\n```bash\nnode --version\n```\n\nIt prints the installed version.",
            ),
        ),
    ),
    _d(
        "roles translated",
        "structure",
        rec(
            "x39",
            ("这是什么花？", "What flower is this?"),
            ("这是一朵向日葵。", "It's a sunflower."),
            roles=["用户", "AI"],
        ),
    ),
    _d(
        "question emptied",
        "structure",
        rec(
            "x40",
            ("", "<image>\nWhat is the woman holding?"),
            ("她拿着一把红色的雨伞。", "She is holding a red umbrella."),
        ),
    ),
    _d(
        "answer swapped to human",
        "structure",
        rec(
            "x41",
            ("这是什么地方？", "What place is this?"),
            ("这是一个机场候机厅。", "It's an airport waiting hall."),
            roles=["human", "human"],
        ),
    ),
    _d(
        "traditional answer",
        "script",
        rec(
            "x42",
            ("这是哪里？", "Where is this?"),
            (
                "這是一個熱鬧的夜市，攤位上掛滿了燈籠。",
                "This is a busy night market with lanterns hanging over the stalls.",
            ),
        ),
    ),
    _d(
        "offer to explain more",
        "preamble",
        rec(
            "x43",
            ("这是什么乐器？", "What instrument is this?"),
            ("这是一把大提琴。需要我进一步介绍它的历史吗？", "It is a cello."),
        ),
    ),
    _d(
        "only a language model",
        "refusal",
        rec(
            "x44",
            ("描述这张图片。", "Describe this image."),
            ("我只是一个语言模型，没法看到图片。", "A red tram climbs a steep street lined with shops."),
        ),
    ),
    _d(
        "unable to describe",
        "refusal",
        rec(
            "x45",
            ("图中有什么？", "What is in the image?"),
            ("I'm unable to describe this image.", "Three sailboats are moored in a small harbor."),
        ),
    ),
    _d(
        "cut inside a model name",
        "truncation",
        rec(
            "x46",
            ("这是什么相机？", "What camera is this?"),
            ("从机身上的标志来看，这是一台Canon EO", "Judging by the logo on the body, it is a Canon EOS R6."),
        ),
    ),
    _d(
        "url altered",
        "ocr",
        rec(
            "x47",
            ("海报上的网址是什么？", "What is the web address on the poster?"),
            ("网址是 www.cityzoo.com。", "The address is www.cityzoo.org."),
        ),
    ),
    _d(
        "tag in lenticular brackets",
        "placeholder",
        rec(
            "x48", ("【图片】\n这是什么鸟？", "<image>\nWhat bird is this?"), ("这是一只翠鸟。", "It is a kingfisher.")
        ),
    ),
    _d(
        "heading level changed",
        "markdown",
        rec(
            "x49",
            ("总结一下这份菜单。", "Summarize the menu."),
            ("# 午餐菜单\n# 主菜\n- 烤鸡\n- 蔬菜汤", "# Lunch Menu\n## Mains\n- Roast chicken\n- Vegetable soup"),
        ),
    ),
    _d(
        "TEXT section dropped",
        "truncation",
        rec(
            "x51",
            ("描述并转写文字。", "Describe and transcribe the text."),
            (
                "描述：一块挂在咖啡馆门口的黑板，上面画着一杯咖啡。",
                "DESCRIPTION: A chalkboard at a café door with a drawing of a cup "
                "of coffee.\nTEXT: TODAY'S SPECIAL / Flat White $3.80",
            ),
        ),
    ),
    _d(
        "number loop",
        "repetition",
        rec(
            "x52",
            ("列出库存。", "List the stock."),
            (
                "| 物品 | 库存 |\n|---|---|\n| 书 | 71 |，| 71 |，| 71 |，| 71 |，| 71 |，| 71 |",
                "| Item | Stock |\n|---|---|\n| Book | 71 |",
            ),
        ),
    ),
    _d(
        "chatty okay",
        "preamble",
        rec(
            "x50",
            ("这是什么季节？", "What season is it?"),
            ("好的！从落叶来看，现在是秋天。", "Judging by the fallen leaves, it is autumn."),
        ),
    ),
]


def test_cases_are_well_formed():
    """The case lists themselves: unique ids, parseable records, families that exist."""
    from zqvl.data.clean import REGISTRY
    from zqvl.data.schema import parse_record

    ids = [obj["id"] for _, _, obj in CLEAN + DEFECTS]
    assert len(ids) == len(set(ids))
    for _, family, obj in CLEAN + DEFECTS:
        parse_record(obj)
        assert family is None or family in REGISTRY
    assert {f for _, f, _ in DEFECTS} == set(REGISTRY)  # every family has at least one planted defect


# Cases for the script (kana, hangul, pinyin) and junk families, in their own file.
from helpers.clean_cases_script_junk import MORE_CLEAN, MORE_DEFECTS  # noqa: E402

CLEAN += MORE_CLEAN
DEFECTS += MORE_DEFECTS

from helpers.clean_cases_content import CONTENT_CLEAN, CONTENT_DEFECTS  # noqa: E402

CLEAN += CONTENT_CLEAN
DEFECTS += CONTENT_DEFECTS

from helpers.clean_cases_tokens import TOKEN_CLEAN, TOKEN_DEFECTS  # noqa: E402

CLEAN += TOKEN_CLEAN
DEFECTS += TOKEN_DEFECTS
