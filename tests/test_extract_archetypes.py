"""Main-content extraction on page archetypes the tests build themselves: what must be kept, what must go.

Each page has real-looking chrome around it (menus, related lists, share bars, footers) and
prose of its own, so a change to the block model or the rules that starts keeping chrome or
dropping text shows up here by name.
"""

from __future__ import annotations

import json

import pytest

from curate.stages.extract import ExtractStage
from curate.stages.extract.block_model import FEATURES, MODEL_PATH, load_model
from curate.stages.extract.boilerplate import ExtractOptions, extract_main_text

NAV = "<nav><ul>" + "".join(f"<li><a href='/s{i}'>Section {i}</a></li>" for i in range(10)) + "</ul></nav>"
FOOTER = ("<footer><p>© 2024 Example Media Group. All rights reserved.</p><p><a href='/privacy'>Privacy policy</a> · "
          "<a href='/terms'>Terms of use</a> · <a href='/cookies'>Cookie settings</a></p></footer>")
SHARE = "<div class='share-bar'><a href='#'>Share on Facebook</a> <a href='#'>Share on X</a> <a href='#'>Email this</a></div>"

ARTICLE_PARAGRAPHS = [
    "The council voted on Tuesday night to close the old harbour bridge to cars from the first of March, ending "
    "a decade of arguments about the crumbling structure that links the fish market to the station.",
    "Engineers told the meeting that the steel supports had lost almost a third of their thickness to rust, and "
    "that a single heavy lorry could now do lasting damage to the deck, which was last repaired in 1987.",
    "Shop owners on the market side said they feared losing customers who drive in from the villages, while "
    "cycling groups welcomed the decision and asked for the bridge to become a permanent walking route.",
    "The council will publish plans for a replacement crossing in the summer; until then, buses will use the "
    "ring road and a free ferry will run every twenty minutes between the two banks during the day.",
]
RELATED = ["Mayor promises new ferry by spring", "Fish market celebrates 150 years", "Station car park to double in size",
           "Letters: what the bridge meant to us", "Photo gallery: the harbour at dawn"]


def page(body: str, title: str = "Harbour bridge to close to cars") -> str:
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>{body}</body></html>"


def extract(html: str) -> str:
    text, _title = extract_main_text(html, ExtractOptions(method="model"))
    return text


def test_article_with_related_links_list_keeps_the_story_and_drops_the_list():
    related = "".join(f"<li><a href='/r{i}'>{t}</a></li>" for i, t in enumerate(RELATED))
    html = page(
        NAV + "<div class='content'><h1>Harbour bridge to close to cars</h1>"
        + "".join(f"<p>{p}</p>" for p in ARTICLE_PARAGRAPHS)
        + SHARE + f"<h3>Related stories</h3><ul class='links'>{related}</ul></div>" + FOOTER
    )
    text = extract(html)
    for p in ARTICLE_PARAGRAPHS:
        assert p in text
    for chrome in RELATED + ["Related stories", "Share on Facebook", "Section 3", "All rights reserved", "Privacy policy"]:
        assert chrome not in text, chrome


def test_main_text_in_article_element_wins_over_prose_around_it():
    # A site blurb is prose too (long lines), but sits outside <article>.
    blurb = ("Example Media is an independent newsroom founded in 1998 by a group of local reporters, funded by our "
             "readers and committed to covering the harbour towns of the north coast without fear or favour.")
    html = page(
        NAV + "<div class='layout'><aside class='about'><p>" + blurb + "</p></aside>"
        + "<article><h1>Harbour bridge to close to cars</h1><p class='byline'>By Ana Ruiz, 4 March 2024</p>"
        + "".join(f"<p>{p}</p>" for p in ARTICLE_PARAGRAPHS) + "</article>"
        + "<div class='promo'><p>Our newsletter, every morning.</p><a href='/signup'>Sign up</a></div></div>" + FOOTER
    )
    text = extract(html)
    for p in ARTICLE_PARAGRAPHS:
        assert p in text
    assert blurb not in text and "Sign up" not in text and "Our newsletter" not in text


FORUM_POSTS = [
    ("kettle_fan", "My bread machine stopped kneading halfway through the cycle last week. The paddle turns freely by "
                   "hand, the motor hums, but nothing moves. Has anyone had this and fixed it without a new machine?"),
    ("breadhead", "Sounds like the drive belt under the pan has slipped or snapped. Unplug it, turn it over and take off "
                  "the four screws on the base plate; the belt is cheap and easy to replace in ten minutes."),
    ("kettle_fan", "That was it! The belt had cracked in two places. Ordered a new one for four pounds and the machine is "
                   "kneading again. Thanks for saving me the cost of a new one, much appreciated."),
]


def test_forum_thread_keeps_every_post_and_drops_the_buttons():
    posts = "".join(
        f"<div class='post'><div class='postauthor'><a href='/u/{user}'>{user}</a><span>Posts: 1{i}2</span></div>"
        f"<div class='postbody'><p>{body}</p></div>"
        f"<div class='postfoot'><a href='/reply'>Reply</a> <a href='/quote'>Quote</a> <a href='/report'>Report</a></div></div>"
        for i, (user, body) in enumerate(FORUM_POSTS)
    )
    html = page(NAV + "<div id='forum'><h2>Bread machine paddle not turning</h2>" + posts
                + "<div class='pagination'><a href='?p=1'>1</a> <a href='?p=2'>2</a> <a href='?p=3'>Next</a></div></div>" + FOOTER,
                title="Bread machine paddle not turning - Kitchen forum")
    text = extract(html)
    for _user, body in FORUM_POSTS:
        assert body in text
    for chrome in ("Report", "Next", "Section 3", "Privacy policy"):
        assert chrome not in text.split("\n"), chrome


def test_product_page_keeps_the_description_and_drops_shop_chrome():
    description = [
        "This cast-iron casserole holds heat evenly for slow stews and crusty loaves alike, and its enamel coating "
        "needs no seasoning, so it goes straight from the oven to the table and into the dishwasher afterwards.",
        "The tight-fitting lid has small ridges underneath that return condensed steam to the food, keeping braised "
        "meat moist over several hours; the handles are wide enough to hold safely with thick oven gloves.",
    ]
    also = ["Enamel skillet 26 cm", "Oven gloves, pair", "Wooden trivet", "Stoneware baking dish"]
    html = page(
        NAV + "<main><div class='product'><h1>Cast-iron casserole, 24 cm</h1><div class='price'>€89.00</div>"
        "<form><button>Add to basket</button></form><div class='description'>"
        + "".join(f"<p>{d}</p>" for d in description) + "</div>"
        "<h3>Customers also bought</h3><ul class='carousel'>"
        + "".join(f"<li><a href='/p{i}'>{t}</a> <span>€{20 + i}.00</span></li>" for i, t in enumerate(also))
        + "</ul></div></main>" + FOOTER,
        title="Cast-iron casserole, 24 cm | Example Shop")
    text = extract(html)
    for d in description:
        assert d in text
    for chrome in also + ["Add to basket", "Customers also bought", "Cookie settings"]:
        assert chrome not in text, chrome


@pytest.mark.parametrize("paragraphs", [
    [  # Chinese
        "港口大桥将于三月一日起禁止汽车通行，这座连接鱼市和火车站的老桥多年来一直是市议会争论的焦点，工程师在会议上表示钢结构已严重锈蚀。",
        "市议会表示将在夏季公布新桥的设计方案，在此之前公交车将改走环路，白天每二十分钟有一班免费渡轮往返于两岸之间，方便市民出行。",
    ],
    [  # Russian
        "Городской совет во вторник вечером проголосовал за закрытие старого портового моста для автомобилей с первого марта, "
        "положив конец десятилетнему спору о разрушающейся конструкции.",
        "Инженеры сообщили, что стальные опоры потеряли почти треть своей толщины из-за ржавчины, и один тяжёлый грузовик "
        "теперь может нанести мосту серьёзный ущерб.",
    ],
    [  # Arabic
        "صوّت المجلس البلدي مساء الثلاثاء على إغلاق جسر الميناء القديم أمام السيارات اعتبارا من الأول من مارس، منهيا عقدا "
        "من الجدل حول هذا الهيكل المتداعي الذي يربط سوق السمك بمحطة القطار.",
        "وقال المهندسون إن الدعامات الفولاذية فقدت نحو ثلث سماكتها بسبب الصدأ، وإن شاحنة ثقيلة واحدة قد تلحق الآن ضررا "
        "دائما بسطح الجسر الذي رمم آخر مرة عام ١٩٨٧.",
    ],
])
def test_non_latin_script_article_keeps_its_text(paragraphs):
    menu = "<nav><ul>" + "".join(f"<li><a href='/{i}'>栏目 {i}</a></li>" for i in range(8)) + "</ul></nav>"
    html = page(menu + "<article>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</article>" + SHARE + FOOTER)
    text = extract(html)
    for p in paragraphs:
        assert p in text
    assert "栏目 3" not in text and "Share on Facebook" not in text


def test_unclosed_noscript_swallowing_the_page_still_yields_its_text():
    # lexbor, like a browser without scripting, parses <noscript> content as markup: an unclosed one holds the whole page.
    html = ("<html><head><title>Bears</title></head><body><noscript><div id='nojs'></noscript><div id='page'>"
            + "".join(f"<p>{p}</p>" for p in ARTICLE_PARAGRAPHS) + "</div></noscript></body></html>")
    text = extract(html)
    assert all(p in text for p in ARTICLE_PARAGRAPHS)


def test_every_page_with_text_becomes_a_document_or_a_reasoned_reject(tmp_path):
    pages = {
        "article.html": page("".join(f"<p>{p}</p>" for p in ARTICLE_PARAGRAPHS)),
        "tiny.html": page("<p>Closed for the holidays. Back on Monday.</p>"),
        "menu_only.html": page(NAV + FOOTER),
        "empty.html": page(""),
    }
    for name, html in pages.items():
        (tmp_path / name).write_text(html)
    stage = ExtractStage(method="model")
    stage.setup()
    from curate.inputs import resolve_inputs

    docs = [d for shard in resolve_inputs([str(tmp_path)], stage.input_suffixes) for d in stage.process(stage.read(shard))]
    assert len(docs) == len(pages)
    by_name = {d["source_file"].rsplit("/", 1)[-1]: d for d in docs}
    assert all(p in by_name["article.html"]["text"] for p in ARTICLE_PARAGRAPHS)
    assert by_name["tiny.html"]["text"] == "Closed for the holidays. Back on Monday."
    for name in ("menu_only.html", "empty.html"):
        assert by_name[name].get("reject_reason") == "extract:empty", name


def test_shipped_block_model_matches_the_code_and_stays_small():
    data = json.loads(MODEL_PATH.read_text())
    assert tuple(data["features"]) == FEATURES and MODEL_PATH.stat().st_size < 20_000
    model = load_model()
    assert 0.0 < model.threshold < 1.0


def test_rules_method_is_the_faster_line_rules_and_keeps_the_story(tmp_path):
    related = "".join(f"<li><a href='/r{i}'>{t}</a></li>" for i, t in enumerate(RELATED))
    html = page(NAV + "".join(f"<p>{p}</p>" for p in ARTICLE_PARAGRAPHS) + f"<ul>{related}</ul>" + FOOTER)
    text, _ = extract_main_text(html, ExtractOptions(method="rules"))
    assert all(p in text for p in ARTICLE_PARAGRAPHS) and "Section 3" not in text
    (tmp_path / "a.html").write_text(html)
    stage = ExtractStage(method="rules")
    stage.setup()
    from curate.inputs import resolve_inputs

    docs = [d for shard in resolve_inputs([str(tmp_path)], stage.input_suffixes) for d in stage.process(stage.read(shard))]
    assert docs[0]["text"] == text
