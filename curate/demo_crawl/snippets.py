"""Fixed text pieces: code listings for tutorials, spam keywords, page furniture."""

# (language, what the code does, listing). Curly braces and operators are the
# point: C4 drops pages with "{", and code pages test that rule and extractors
# that must keep <pre> line breaks.
CODE = [
    ("Python", "read a JSON file", '''import json

def load_config(path):
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    return {key.lower(): value for key, value in config.items()}

settings = load_config("settings.json")
print(settings.get("debug", False))'''),
    ("Python", "count words in a text", '''from collections import Counter

def top_words(text, n=10):
    words = [w.strip(".,!?").lower() for w in text.split()]
    return Counter(w for w in words if w).most_common(n)

for word, count in top_words(open("book.txt").read()):
    print(f"{word:>12} {count}")'''),
    ("Python", "retry a failing request", '''import time

def retry(func, attempts=3, delay=0.5):
    for i in range(attempts):
        try:
            return func()
        except ConnectionError as err:
            if i == attempts - 1:
                raise
            time.sleep(delay * 2 ** i)'''),
    ("Python", "build a small class", '''class Account:
    def __init__(self, owner, balance=0):
        self.owner = owner
        self.balance = balance

    def deposit(self, amount):
        if amount <= 0:
            raise ValueError("amount must be positive")
        self.balance += amount
        return self.balance'''),
    ("Python", "sort a list of records", '''people = [
    {"name": "Ada", "age": 36},
    {"name": "Linus", "age": 28},
    {"name": "Grace", "age": 45},
]
people.sort(key=lambda p: (p["age"], p["name"]))
print([p["name"] for p in people])'''),
    ("JavaScript", "fetch data from an API", '''async function loadUsers(url) {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`HTTP ${response.status}`);
  }
  const users = await response.json();
  return users.filter((u) => u.active && u.age >= 18);
}'''),
    ("JavaScript", "debounce an event handler", '''function debounce(fn, wait) {
  let timer = null;
  return function (...args) {
    clearTimeout(timer);
    timer = setTimeout(() => fn.apply(this, args), wait);
  };
}

window.addEventListener("resize", debounce(() => console.log("resized"), 200));'''),
    ("JavaScript", "group items by a key", '''const groupBy = (items, key) =>
  items.reduce((acc, item) => {
    (acc[item[key]] ||= []).push(item);
    return acc;
  }, {});

console.log(groupBy([{ type: "a" }, { type: "b" }, { type: "a" }], "type"));'''),
    ("JavaScript", "toggle a menu", '''const button = document.querySelector("#menu-toggle");
const menu = document.querySelector(".menu");

button.addEventListener("click", () => {
  const open = menu.classList.toggle("open");
  button.setAttribute("aria-expanded", String(open));
});'''),
]

SPAM_KEYWORDS = """
best cheap deals buy now discount free shipping lowest price online sale offer
top rated cheap cheap best deal click here limited time order today save big
bonus winner free gift card coupon promo code hot deals bargain clearance
outlet wholesale cheapest guaranteed amazing unbelievable instant cash prize
""".split()

SPAM_LINES = [
    "BUY NOW BEST CHEAP DEALS FREE SHIPPING",
    "Click here for the best cheap deals online today",
    "Limited time offer order now and save big",
    "Free gift card for every order click here now",
    "LOWEST PRICE GUARANTEED BUY NOW",
]

COOKIE_BANNERS = [
    "We use cookies to improve your experience on our website. By continuing to browse, you agree to our use of cookies.",
    "This site uses cookies for analytics and personalised content. Accept all cookies or manage your preferences.",
    "Our website uses cookies. Some are essential, others help us improve the site.",
]

SHARE_LINES = ["Share on Facebook", "Share on Twitter", "Share on LinkedIn", "Email this article", "Print"]

NEWSLETTER = [
    "Subscribe to our newsletter",
    "Get the latest stories delivered to your inbox every morning.",
    "Sign up for our free daily newsletter.",
]

FOOTER_LINKS = ["Privacy Policy", "Terms of Use", "Cookie Settings", "Contact Us", "About Us", "Careers", "Advertise"]

NAV_EN = ["Home", "News", "World", "Business", "Sport", "Culture", "Opinion", "Travel", "Science", "Video",
          "Podcasts", "Weather", "Login", "Subscribe"]

AD_TEXTS = [
    "Advertisement",
    "Sponsored content: discover the best offers of the season.",
    "Ad: Save 20% on your first order with code WELCOME.",
]
