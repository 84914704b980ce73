"""Reading Taiwanese door-number addresses (門牌) and typed coordinates: no database needed."""

import pytest

from layers.geocoding import address, coordinates

# (typed, city, district, village, road, section, lane, alley, number, sub, floor)
FORMS = [
    ("桃園市復興區三光里武崙路１２０巷２號", "桃園市", "復興區", "三光里", "武崙路", 0, "120", "", 2, 0, None),
    ("臺北市大安區復興南路一段３９０號２樓", "臺北市", "大安區", "", "復興南路", 1, "", "", 390, 0, 2),
    ("台北市中正區重慶南路1段122號", "臺北市", "中正區", "", "重慶南路", 1, "", "", 122, 0, None),
    ("100臺北市中正區中山南路1號", "臺北市", "中正區", "", "中山南路", 0, "", "", 1, 0, None),
    ("10048 臺北市中正區中山南路20號", "臺北市", "中正區", "", "中山南路", 0, "", "", 20, 0, None),
    ("臺南市東區東寧路西段5號", "臺南市", "東區", "", "東寧路西段", 0, "", "", 5, 0, None),
    ("桃園市中壢區中正路二段一百二十巷3弄5之1號", "桃園市", "中壢區", "", "中正路", 2, "120", "3", 5, 1, None),
    ("中壢區中正路100號之2", "", "中壢區", "", "中正路", 0, "", "", 100, 2, None),
    ("復興路三段31-13號", "", "", "", "復興路", 3, "", "", 31, 13, None),
    ("三光里武道能敢5號", "", "", "三光里", "武道能敢", 0, "", "", 5, 0, None),
    ("桃園市平鎮區環南路12號3F", "桃園市", "平鎮區", "", "環南路", 0, "", "", 12, 0, 3),
    ("屏東縣瑪家鄉三和村1鄰2號", "屏東縣", "瑪家鄉", "三和村", "", 0, "", "", 2, 0, None),
    ("臺東縣海端鄉崁頂村中福3鄰中福73號之1", "臺東縣", "海端鄉", "崁頂村", "中福", 0, "", "", 73, 1, None),
    ("新竹市東區光復路二段101號", "新竹市", "東區", "", "光復路", 2, "", "", 101, 0, None),
    ("新北市板橋區文化路一段１８８巷４４號", "新北市", "板橋區", "", "文化路", 1, "188", "", 44, 0, None),
    ("高雄市前鎮區中山二路2號", "高雄市", "前鎮區", "", "中山二路", 0, "", "", 2, 0, None),
    ("彰化縣員林市中山路二段五十六號", "彰化縣", "員林市", "", "中山路", 2, "", "", 56, 0, None),
    ("桃園市桃園區三民路三段二十一號十二樓", "桃園市", "桃園區", "", "三民路", 3, "", "", 21, 0, 12),
    ("桃園市八德區介壽路一段９９９號", "桃園市", "八德區", "", "介壽路", 1, "", "", 999, 0, None),
    ("　桃園市　中壢區　中正路　１００號　", "桃園市", "中壢區", "", "中正路", 0, "", "", 100, 0, None),
    ("萬里街5號", "", "", "", "萬里街", 0, "", "", 5, 0, None),
    ("五福路二十號", "", "", "", "五福路", 0, "", "", 20, 0, None),
    ("中正路100", "", "", "", "中正路", 0, "", "", 100, 0, None),
    ("臺中市西屯區臺灣大道三段99號", "臺中市", "西屯區", "", "臺灣大道", 3, "", "", 99, 0, None),
    ("臺灣省桃園市大溪區員林路二段１３６巷５弄１號", "桃園市", "大溪區", "", "員林路", 2, "136", "5", 1, 0, None),
]


@pytest.mark.parametrize("typed,city,district,village,road,section,lane,alley,number,sub,floor", FORMS)
def test_real_address_forms(typed, city, district, village, road, section, lane, alley, number, sub, floor):
    got = address.parse(typed)
    assert (got.city, got.district, got.village, got.road, got.section, got.lane, got.alley, got.number, got.sub,
            got.floor) == (city, district, village, road, section, lane, alley, number, sub, floor)


def test_chinese_numerals_and_road_names_that_hold_numerals():
    assert [address.chinese_number(t) for t in ("一", "十", "十五", "二十", "一百二十", "二〇五", "三百零一")] == [
        1, 10, 15, 20, 120, 205, 301]
    assert address.normalise("三民路一段") == "三民路1段"  # 三民 is a name, 一段 a section
    assert address.normalise("九如路") == "九如路"


def test_parts_of_an_address_layer_row():
    assert address.parse_number("３１之１３號") == (31, 13)
    assert address.parse_number("１２號") == (12, 0)
    assert address.parse_number("") == (None, 0)
    assert address.split_road("復興路三段") == ("復興路", 3)
    assert address.strip_unit("１２０巷", "巷") == "120"


def test_text_that_is_no_address():
    assert address.parse("人口").is_empty is False  # a word is read as a road-like name: the search decides
    assert address.parse("").is_empty


@pytest.mark.parametrize("typed,read_as,lon,lat", [
    ("250000 2770000", "twd97", 121.0, 25.0381),
    ("250000,2770000", "twd97", 121.0, 25.0381),
    ("2770000, 250000", "twd97", 121.0, 25.0381),  # Y, X
    ("121.5,25.04", "lonlat", 121.5, 25.04),
    ("25.04, 121.5", "lonlat", 121.5, 25.04),
    ("25°02'30\"N 121°33'54\"E", "dms", 121.565, 25.041667),
    ("121°33'54\"E 25°02'30\"N", "dms", 121.565, 25.041667),
    ("２５°０２’３０”Ｎ　１２１°３３’５４”Ｅ", "dms", 121.565, 25.041667),
    ("25度2分30秒 121度33分54秒", "dms", 121.565, 25.041667),
    ("25.04N 121.5E", "dms", 121.5, 25.04),
])
def test_coordinate_forms(typed, read_as, lon, lat):
    got = coordinates.read(typed)
    assert got.read_as == read_as
    assert (got.lon, got.lat) == pytest.approx((lon, lat), abs=1e-4)


@pytest.mark.parametrize("typed,says", [
    ("0,0", "不在臺灣範圍內"),
    ("-74.0, 40.7", "不在臺灣範圍內"),  # New York
    ("900000 9000000", "不在臺灣範圍內"),
    ("12 34 56", "不是可讀的坐標"),
    ("25°N", "不是可讀的坐標"),
    ("25°70'0\"N 121°0'0\"E", "不能大於 60"),
    ("121.5, 2770000", "混合了公尺與度數"),
])
def test_bad_coordinates_say_what_was_expected(typed, says):
    with pytest.raises(coordinates.CoordinateProblem) as caught:
        coordinates.read(typed)
    message = caught.value.args[0].format(**caught.value.params)
    assert says in message and "250000 2770000" in message


@pytest.mark.parametrize("typed", ["中正路", "121.5", "VAL-1", "2026", "人口密度"])
def test_text_that_is_no_coordinate(typed):
    assert coordinates.read(typed) is None
