"""Place names for the demo city, in the style of Taiwanese districts, villages and streets."""

import numpy as np

DISTRICTS = ["中正區", "中山區", "光明區", "仁愛區", "信義區", "文昌區", "永和區", "大同區", "南興區", "北勢區",
             "東勢區", "西湖區", "龍潭區", "楊梅區", "新屋區", "觀音區"]

# Two-character roots used for villages (里), streets and sections (地段).
ROOTS = ["福德", "永安", "仁和", "忠孝", "大同", "新生", "光明", "文化", "育英", "長春", "華興", "龍興", "勝利",
         "興隆", "南華", "北平", "東興", "西寧", "中興", "民生", "建國", "成功", "自強", "和平", "復興", "信義",
         "博愛", "中華", "青山", "翠谷", "松柏", "竹林", "梅園", "蘭亭", "桂花", "榮華", "富貴", "吉祥", "泰安",
         "康樂", "昌平", "寶山", "金城", "玉泉", "錦繡", "鳳鳴", "龍岡", "雙連", "三和", "四維", "五福", "六合",
         "七賢", "八德", "九如", "十全", "百齡", "千禧", "萬壽", "頂庄", "下庄", "埔頂", "埔心", "溪洲", "南崁",
         "坑口", "草漯", "大牛", "後厝", "崁頂", "水尾", "田心", "山腳", "湖口", "社子", "番社", "瑞源", "內壢",
         "過嶺", "石門", "高原", "三坑", "員樹", "上林", "北勢", "水美", "清華", "明德", "崇德", "至善", "弘道"]

ARTERIALS = ["中正路", "中山路", "民族路", "民權路", "復興路", "建國路", "成功路", "三民路", "介壽路", "光復路",
             "忠孝路", "仁愛路", "中華路", "延平路", "環北路", "環中東路", "春日路", "大興路", "經國路", "縣府路"]

RIVERS = ["南崁溪", "老街溪", "新街溪", "社子溪", "大堀溪", "茄苳溪", "埔心溪", "富林溪"]

CHINESE_NUMERALS = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"]


def section_name(road: str, section: int) -> str:
    """'中正路' + 2 → '中正路二段'."""
    return f"{road}{CHINESE_NUMERALS[min(section, 10) - 1]}段"


def unique_names(rng: np.random.Generator, count: int, suffix: str, reserved: set[str] = frozenset()) -> list[str]:
    """`count` distinct names root+suffix (then root+root+suffix when roots run out), in a seeded order."""
    candidates = [r + suffix for r in ROOTS] + [a + b[0] + suffix for a in ROOTS for b in ROOTS if a != b]
    names = [n for n in dict.fromkeys(candidates) if n not in reserved]
    order = rng.permutation(len(ROOTS))
    head = [names[i] for i in order]
    return (head + names[len(ROOTS):])[:count]
