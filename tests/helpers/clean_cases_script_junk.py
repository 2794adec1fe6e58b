"""Clean cases for the second wave of checks: script (kana, hangul, pinyin), junk, answered, one extra copy of a
line or sentence, markdown links and bold, a turn ending on a connective: hard negatives and planted defects.

Written for these families, not from the dev sets' wording: the debris real translation pipelines leave (escaped
newlines from a JSON round trip, HTML from a web UI, a `{"translation": …}` the model was asked for by another
prompt, role names from a chat transcript) and the wrong scripts (a Japanese or Korean reply, pinyin instead of
characters). The hard negatives are the same things when the source has them.
"""

from __future__ import annotations

from helpers.clean_records import rec

MORE_CLEAN = [
    (
        "json reply the user asked for",
        None,
        rec(
            "k01",
            ("把图中的水果列成JSON对象，键为名称，值为数量。", "List the fruit as a JSON object, name to count."),
            ('{"苹果": 3, "香蕉": 2, "橙子": 1}', '{"apple": 3, "banana": 2, "orange": 1}'),
        ),
    ),
    (
        "quoted reply whose source is quoted",
        None,
        rec(
            "k02",
            ("给这张照片起个标题。", "Give this photo a title."),
            ("“雨后的老街”", '"The Old Street After the Rain"'),
        ),
    ),
    (
        "code with literal escapes in both",
        None,
        rec(
            "k03",
            ("这段代码打印什么？", "What does this code print?"),
            (
                '它打印两行：`print("a\\nb")` 中的 `\\n` 是换行符。',
                'It prints two lines: the `\\n` in `print("a\\nb")` is a newline.',
            ),
        ),
    ),
    (
        "html the source shows",
        None,
        rec(
            "k04",
            ("截图里的代码是什么意思？", "What does the code in the screenshot mean?"),
            (
                "它用 <br> 在两行之间换行，&amp; 则显示一个和号。",
                "It uses <br> to break between the two lines, and &amp; shows an ampersand.",
            ),
            image=None,
        ),
    ),
    (
        "role names in a transcribed chat screenshot",
        None,
        rec(
            "k05",
            ("截图里的客服对话说了什么？", "What does the support chat in the screenshot say?"),
            (
                "对话如下：\nUser: 我的订单在哪里？\nAssistant: 明天发货。",
                "The chat reads:\nUser: Where is my order?\nAssistant: It ships tomorrow.",
            ),
        ),
    ),
    (
        "Japanese shop sign quoted",
        None,
        rec(
            "k06",
            ("招牌上写着什么？", "What does the sign say?"),
            (
                "招牌上写着“らーめん”，也就是拉面。",
                'The sign says "らーめん", which is ramen.',
            ),
        ),
    ),
    (
        "Korean menu quoted",
        None,
        rec(
            "k07",
            ("菜单第一行是什么？", "What is the first line of the menu?"),
            (
                "第一行是“김치찌개 8,000원”，即泡菜汤8000韩元。",
                'The first line reads "김치찌개 8,000원", kimchi stew for 8,000 won.',
            ),
        ),
    ),
    (
        "pinyin quoted from a sign",
        None,
        rec(
            "k08",
            ("路牌上的拼音是什么？", "What pinyin is on the street sign?"),
            ("路牌上写着“Chángān Jiē”，即长安街。", 'The sign reads "Chángān Jiē", that is Chang\'an Avenue.'),
        ),
    ),
    (
        "Chinese name with a middle dot",
        None,
        rec(
            "k09",
            ("这幅画是谁画的？", "Who painted this?"),
            ("这是列奥纳多・达・芬奇的作品《蒙娜丽莎》。", "It is the Mona Lisa by Leonardo da Vinci."),
        ),
    ),
    (
        "French word with an accent",
        None,
        rec(
            "k10",
            ("店名是什么？", "What is the shop called?"),
            ("店名是“Café Rivière”，一家小咖啡馆。", 'It is called "Café Rivière", a small coffee shop.'),
        ),
    ),
    (
        "a label in the source's own words",
        None,
        rec(
            "k11",
            ("按格式回答：问题和答案。", "Answer in the format Question/Answer."),
            ("问题：这是什么动物？\n答案：一只狐狸。", "Question: What animal is this?\nAnswer: A fox."),
        ),
    ),
]

MORE_CLEAN += [
    (
        "question with a particle and a full stop",
        None,
        rec(
            "k12",
            ("你能看清车牌吗。", "Can you read the licence plate?"),
            ("能，车牌是京A·12345。", "Yes, it is 京A·12345."),
        ),
    ),
    (
        "question quoted inside an instruction",
        None,
        rec(
            "k13",
            ("把“Where is the station?”翻译成法语。", 'Translate "Where is the station?" into French.'),
            ("法语是“Où est la gare ?”。", 'In French: "Où est la gare ?"'),
            image=None,
        ),
    ),
    (
        "answer that ends by asking back",
        None,
        rec(
            "k14",
            ("这是哪种鸟？", "Which bird is this?"),
            ("这是一只翠鸟。你想了解它吃什么吗？", "It is a kingfisher. Would you like to know what it eats?"),
        ),
    ),
]

MORE_DEFECTS = [
    (
        "how-many question answered",
        "answered",
        rec(
            "y13",
            ("桌上有三个杯子。", "How many cups are on the table?"),
            ("桌上有三个杯子，其中一个是空的。", "There are three cups on the table; one of them is empty."),
        ),
    ),
    (
        "second question answered in a multi-turn record",
        "answered",
        rec(
            "y14",
            ("这是什么运动？", "What sport is this?"),
            ("这是冰球。", "It is ice hockey."),
            ("穿红色球衣的队伍领先。", "Which team is ahead?"),
            ("穿红色球衣的队伍以2比1领先。", "The team in red leads 2-1."),
        ),
    ),
    (
        "yes-no question replaced by its answer",
        "answered",
        rec(
            "y15",
            ("这个房间适合小孩子。", "Is this room suitable for small children?"),
            ("是的，房间里没有尖锐的家具。", "Yes, there is no sharp furniture in the room."),
        ),
    ),
    (
        "escaped newlines from a JSON round trip",
        "junk",
        rec(
            "y01",
            ("描述这张图片。", "Describe the image."),
            (
                "一只橘猫趴在窗台上。\\n窗外正在下雨。",
                "An orange cat lies on the windowsill.\nIt is raining outside.",
            ),
        ),
    ),
    (
        "html entity for a quote",
        "junk",
        rec(
            "y02",
            ("横幅上写着什么？", "What does the banner say?"),
            ("横幅上写着&quot;SALE&quot;，字是红色的。", 'The banner says "SALE" in red letters.'),
        ),
    ),
    (
        "html line break",
        "junk",
        rec(
            "y03",
            ("这张图里有什么？", "What is in this picture?"),
            ("两个孩子在放风筝。<br/>天空很蓝。", "Two children are flying kites. The sky is very blue."),
            image=None,
        ),
    ),
    (
        "json wrapper with another key",
        "junk",
        rec(
            "y04",
            ("桌上有什么？", "What is on the desk?"),
            ('{"output": "桌上有一台笔记本电脑和一杯咖啡。"}', "A laptop and a cup of coffee."),
        ),
    ),
    (
        "json fragment left at the end",
        "junk",
        rec(
            "y05",
            ("天气怎么样？", "What is the weather like?"),
            ('天气晴朗，阳光明媚。"}', "It is clear and sunny."),
        ),
    ),
    (
        "corner quotes around the whole reply",
        "junk",
        rec(
            "y06",
            ("这只狗在做什么？", "What is the dog doing?"),
            ("「这只狗正在草地上追一个飞盘。」", "The dog is chasing a frisbee across the grass."),
        ),
    ),
    (
        "code fence around a plain reply",
        "junk",
        rec(
            "y07",
            ("图中是哪座城市？", "Which city is this?"),
            ("```\n这是巴黎，远处能看到埃菲尔铁塔。\n```", "This is Paris; the Eiffel Tower is in the distance."),
        ),
    ),
    (
        "merged turn with a role name",
        "junk",
        rec(
            "y08",
            ("这是什么花？", "What flower is this?"),
            ("这是一朵向日葵。\n用户：它为什么朝着太阳？", "It is a sunflower."),
        ),
    ),
    (
        "English role label on the answer",
        "junk",
        rec(
            "y09",
            ("她穿着什么？", "What is she wearing?"),
            ("GPT: 她穿着一件黄色雨衣。", "She is wearing a yellow raincoat."),
        ),
    ),
    (
        "answer in Japanese",
        "script",
        rec(
            "y10",
            ("这是什么建筑？", "What building is this?"),
            ("これは古いお寺で、屋根は赤いです。", "It is an old temple with a red roof."),
        ),
    ),
    (
        "one sentence in Korean",
        "script",
        rec(
            "y11",
            ("描述一下这个房间。", "Describe the room."),
            (
                "房间里有一张木床和一扇大窗户。창문 밖으로 바다가 보입니다.",
                "The room has a wooden bed and a large window. The sea is visible through the window.",
            ),
        ),
    ),
    (
        "question in pinyin",
        "script",
        rec(
            "y12",
            ("Zhè zhī māo shì shénme yánsè de?", "What colour is this cat?"),
            ("这只猫是灰色的。", "The cat is grey."),
        ),
    ),
]


MORE_CLEAN += [
    (
        "sentence ending on a word that ends in 和",
        None,
        rec(
            "k15",
            ("今天天气怎么样？", "How is the weather today?"),
            ("阳光很好，风也很温和", "Sunny, and the wind is mild"),
        ),
    ),
    (
        "caption whose source stops on 'and'",
        None,
        rec("k16", ("简要描述。", "Describe briefly."), ("一盘奶酪和", "a plate of cheese and")),
    ),
    (
        "link and bold kept",
        None,
        rec(
            "k17",
            ("在哪里买票？", "Where can I buy tickets?"),
            (
                "可以在**售票处**购买，或者访问[官方网站](https://tickets.example.org)。",
                "At the **box office**, or on the [official site](https://tickets.example.org).",
            ),
        ),
    ),
    (
        "a chant the source repeats",
        None,
        rec(
            "k18",
            ("横幅上写了什么？", "What does the banner say?"),
            ("横幅上写着：加油！加油！", "The banner says: Go team! Go team!"),
        ),
    ),
]

MORE_DEFECTS += [
    (
        "a sentence written twice",
        "repetition",
        rec(
            "y16",
            ("这只狗是什么品种？这只狗是什么品种？", "What breed is this dog?"),
            ("这是一只金毛寻回犬。", "It is a golden retriever."),
        ),
    ),
    (
        "a list item printed twice",
        "repetition",
        rec(
            "y17",
            ("冰箱里有什么？", "What is in the fridge?"),
            (
                "冰箱里有：\n- 一盒牛奶\n- 六个鸡蛋\n- 六个鸡蛋\n- 一棵生菜",
                "The fridge holds:\n- a carton of milk\n- six eggs\n- a lettuce",
            ),
        ),
    ),
    (
        "link with full-width parentheses",
        "markdown",
        rec(
            "y18",
            ("菜单在哪里看？", "Where is the menu?"),
            (
                "菜单在[餐厅主页]（https://bistro.example.com/menu）上。",
                "The menu is on the [restaurant page](https://bistro.example.com/menu).",
            ),
        ),
    ),
    (
        "a bold marker dropped",
        "markdown",
        rec(
            "y19",
            ("有哪些选项？", "What are the options?"),
            ("- **小杯：8元\n- **大杯**：12元", "- **Small**: 8 yuan\n- **Large**: 12 yuan"),
        ),
    ),
    (
        "question cut after a connective",
        "truncation",
        rec(
            "y20",
            ("这家店卖什么，以及", "What does this shop sell, and when does it open?"),
            ("它卖手工面包，每天早上七点开门。", "It sells handmade bread and opens at seven every morning."),
        ),
    ),
]

MORE_DEFECTS += [
    (
        "middle paragraph missing",
        "omission",
        rec(
            "y21",
            ("详细描述这张图片。", "Describe the image in detail."),
            (
                "画面中是一个清晨的菜市场，摊位沿着街道一字排开。\n\n远处，太阳刚从楼顶升起，街道被染成了金色。",
                "The picture shows a morning market, with stalls lined up along the street.\n\n"
                "In the middle, a vendor weighs tomatoes for an old woman holding a cloth bag.\n\n"
                "In the distance, the sun is just rising over the rooftops and turns the street golden.",
            ),
        ),
    ),
]

MORE_CLEAN += [
    (
        "the user asks what an English sentence means",
        None,
        rec(
            "k19",
            ("海报上这句英文是什么意思？", "What does the English sentence on the poster mean?"),
            ("这句英文的意思是：“明天会更好”。", 'The sentence means: "tomorrow will be better".'),
        ),
    ),
    (
        "millions written with 万",
        None,
        rec(
            "k20",
            ("这座城市有多少人？", "How many people live in this city?"),
            ("大约有830万人。", "About 8.3 million people."),
        ),
    ),
    (
        "billions kept in English",
        None,
        rec(
            "k21",
            ("图表显示了什么？", "What does the chart show?"),
            ("图表显示营收为3.1 billion美元。", "The chart shows revenue of $3.1 billion."),
        ),
    ),
]

MORE_DEFECTS += [
    (
        "a lead-in about the source text",
        "preamble",
        rec(
            "y22",
            ("这张照片里有什么？", "What is in this photo?"),
            ("这段话的意思是：照片里有一只在雪地里奔跑的狐狸。", "A fox running through the snow."),
        ),
    ),
    (
        "a gloss on how a term was translated",
        "preamble",
        rec(
            "y23",
            ("这道菜叫什么？", "What is this dish called?"),
            ("这是一份提拉米苏（tiramisu 一词这里译为提拉米苏）。", "It is a tiramisu."),
        ),
    ),
    (
        "million read as 十万",
        "numbers",
        rec(
            "y24",
            ("这个视频有多少播放量？", "How many views does this video have?"),
            ("这个视频有120万次播放，是今年最多的。", "It has 12 million views, the most this year."),
        ),
    ),
]

# An instruction must stay a request: hard negatives phrase the request many ways; the defects carry it out.
MORE_CLEAN += [
    (
        "describe request with 一下",
        None,
        rec(
            "k22",
            ("简单描述一下这张照片。", "Briefly describe this photo."),
            ("照片里是一片雪山。", "A snowy mountain."),
        ),
    ),
    (
        "request as a question",
        None,
        rec(
            "k23",
            ("车牌上的号码是多少？", "Read the number on the license plate."),
            ("车牌号是京A·12345。", "The plate reads 京A·12345."),
        ),
    ),
    (
        "please + tell me",
        None,
        rec(
            "k24",
            ("告诉我路牌上写了什么。", "Please tell me what the road sign says."),
            ("路牌上写着“Road work ahead”（前方施工）。", "The sign says “Road work ahead”."),
        ),
    ),
    (
        "imagine and introduce",
        None,
        rec(
            "k25",
            ("假如你是照片里的那只狗，做个自我介绍。", "Imagine you are the dog in the photo and introduce yourself."),
            ("汪！我叫豆豆，最喜欢在草地上打滚。", "Woof! I'm Doudou and I love rolling in the grass."),
        ),
    ),
    (
        "a gpt turn that starts with a verb is not a request",
        None,
        rec(
            "k26",
            ("这是哪里？", "Where is this?"),
            ("这是一座海边小镇，远处能看到灯塔。", "Look closely: it is a seaside town with a lighthouse far off."),
        ),
    ),
]

MORE_DEFECTS += [
    (
        "describe request carried out",
        "answered",
        rec(
            "y25",
            ("照片里是晴天，天空很蓝，飘着白云。", "Describe the weather in the photo."),
            ("晴朗，万里无云。", "Sunny and clear."),
        ),
    ),
    (
        "identify request carried out",
        "answered",
        rec(
            "y26",
            ("这是一只金毛寻回犬。", "Please identify the breed of this dog."),
            ("它是金毛寻回犬。", "It is a golden retriever."),
        ),
    ),
    (
        "count request answered in a later turn",
        "answered",
        rec(
            "y27",
            ("图里是什么鸟？", "What birds are these?"),
            ("是麻雀。", "They are sparrows."),
            ("电线上一共有七只麻雀。", "Now count the sparrows on the wire."),
            ("七只。", "Seven."),
        ),
    ),
]

# A caption cut after 的; whole sentences that end on 的 stay.
MORE_CLEAN += [
    (
        "是…的 ending",
        None,
        rec(
            "k27",
            ("这座桥是什么时候建的？", "When was this bridge built?"),
            ("这座桥是在1990年由当地政府出资建成的", "the bridge was built in 1990 with money from the town"),
        ),
    ),
    (
        "possessive ending",
        None,
        rec(
            "k28",
            ("这把伞是谁的？", "Whose umbrella is this?"),
            ("我想这把放在门边的蓝色雨伞应该是我妈妈的", "I think the blue umbrella by the door is my mother's"),
        ),
    ),
    (
        "'one' ending",
        None,
        rec(
            "k29",
            ("他买了什么？", "What did he buy?"),
            ("他把旧背包扔了，又去商场买了一个新的", "he threw away his old backpack and bought a new one"),
        ),
    ),
]

MORE_DEFECTS += [
    (
        "caption cut after 的",
        "truncation",
        rec(
            "y28",
            ("描述这张图片。", "Describe this image."),
            ("一只棕色的小狗趴在客厅里柔软的", "a small brown dog lying on a soft rug in the living room"),
        ),
    ),
]

# A gloss in quotes is translated; the foreign word itself, or a capitalised sign, stays verbatim.
MORE_CLEAN += [
    (
        "a lowercase gloss after 'the Japanese word for'",
        None,
        rec(
            "k30",
            ("门帘上写着什么？", "What is written on the curtain?"),
            (
                "上面写着“Arigatou”，这是日语里“谢谢”的意思。",
                'It says "Arigatou", the Japanese word for "thank you".',
            ),
        ),
    ),
]

MORE_DEFECTS += [
    (
        "the foreign word itself translated",
        "ocr",
        rec(
            "y29",
            ("店名是什么？", "What is the shop called?"),
            ("店名是法语单词“面包店”。", 'It is called by the French word "Boulangerie".'),
        ),
    ),
]
