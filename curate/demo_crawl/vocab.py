"""English word lists for the sample generator.

Real words, grouped by part of speech so the sentence templates in
``english.py`` come out grammatical-looking. Content words are mostly longer
than average so that, mixed with short stop words, the mean word length lands
around 4.5-5 characters like real prose (Gopher keeps 3-10).

Nouns are chosen to pluralise regularly (see ``plural``); verbs are given as
``base:past`` pairs whose past form is also the past participle.
"""

NOUNS = """
account action activity address advantage agency agreement airport amount
analysis animal answer apartment application approach area argument article
artist aspect assessment assignment audience author authority average award
balance bank barrier basis battle benefit bill bird board boat bottle boundary
brand bridge budget building business campaign candidate capacity capital card
career category center century chain chairman challenge chamber championship
channel chapter character charge chart choice church citizen claim climate
coach coalition coast collection college column comment commission committee
community company comparison competition complaint component computer concept
concern concert conclusion condition conference connection consequence
consumer contact content contest context contract contribution conversation
corner cost council count county course court crew crisis critic crop culture
customer cycle damage database deadline debate decade decision definition
degree delay delivery demand department deposit design detail developer device
difference difficulty dinner direction director discount discovery discussion
disease distance district doctor document dollar donation driver economy
edition editor education effect effort election element emergency employee
employer engine engineer environment episode equipment error estimate event
evidence examination example exception exchange exercise exhibition expansion
expert explanation expression facility factor failure family farm farmer
feature festival figure film finding flight flower forest format foundation
framework friend function garden generation gift goal government grant group
growth guest guide habit harbor headline health highway holiday hospital hotel
house household idea image impact improvement incident income increase
individual industry influence information initiative injury insight
institution instrument insurance interest interview investigation investment
investor island issue journal journey judge kitchen landscape language lawyer
leader lesson letter level library license limit link listener location
machine magazine maintenance majority manager market material meeting member
memory message method minister minute mission mistake model moment month
mountain movement museum musician neighbor network newspaper number object
observation occasion offer office officer official operation opinion
opportunity option order organization outcome owner package painting
parent park participant partner passenger path patient pattern payment
percentage performance period permit person perspective phase photograph
physician picture piece pilot place plan planet plant platform player poem
point policy politician population position possibility post practice
prediction premium preparation presence president pressure price principle
priority prison problem procedure process producer product profession
professor profile program project promise property proposal protest provider
publication purchase purpose quality question rate reaction reader reason
record recovery reduction region regulation relationship release report
reporter request requirement researcher reservation resident resource
response restaurant result review reward river road role room route rule
salary sample schedule scheme scholar school scientist screen season seat
section sector selection senator series server service session setting
settlement shelter shift signal singer site situation skill society soldier
solution song source speaker species speech sponsor stadium staff stage
standard statement station statue step story strategy street strength
structure student studio subject success suggestion summary supplier supporter
surface survey symbol system table target task teacher technique technology
temperature tenant term territory test theater theme theory ticket title tool
topic tour tourist tower track trader tradition traffic trail training
transfer transition treatment trend trial trip truck university update user
valley value vehicle version victim village visitor volunteer voter wage
warning weapon website week weekend window winner worker workshop writer year
""".split()

ADJECTIVES = """
able academic active additional administrative afraid agricultural alternative
ancient annual anxious apparent appropriate available average aware basic
beautiful beneficial broad brief brilliant busy capable careful central certain
cheerful chemical civil classic clean clear close coastal cold comfortable
commercial common competitive complete complex comprehensive concerned
confident conservative considerable consistent constant contemporary
conventional correct creative critical cultural curious current daily dark
decent deep democratic dependent detailed different difficult digital direct
distant domestic dramatic early eastern economic educational effective
efficient elderly electric electronic emotional empty energetic enormous
entire environmental equal essential ethical everyday excellent exceptional
existing expensive experienced experimental external extra fair familiar
famous federal final financial flexible foreign formal former fortunate free
frequent fresh friendly full fundamental future general generous gentle
genuine global gradual grateful great green growing happy healthy heavy
helpful historic historical honest huge ideal important impressive
independent individual industrial inexpensive informal initial innovative
interested interesting internal international large late legal liberal
limited literary little local logical long lucky main major manual massive
mature medical mental military minor mobile moderate modern narrow national
natural necessary negative nervous normal northern notable numerous obvious
occasional official ongoing open optimistic ordinary organic original
outstanding overall particular patient peaceful permanent personal physical
pleasant political popular positive possible potential powerful practical
precise pregnant previous primary private productive professional profitable
prominent proper public quiet rapid rare reasonable recent regional regular
relevant reliable remarkable remote rental residential responsible rural
scientific seasonal secondary secure senior separate serious severe sharp
significant similar simple single slight small smart social southern special
specific stable steady strict strong structural successful sudden sufficient
suitable surprising sustainable technical temporary thoughtful tiny
traditional typical unusual upcoming urban useful usual valuable various
visible visual vital warm wealthy weekly western wide wonderful young
""".split()

VERBS = [pair.split(":") for pair in """
accept:accepted achieve:achieved acquire:acquired adapt:adapted add:added
address:addressed adjust:adjusted adopt:adopted analyze:analyzed
announce:announced approve:approved arrange:arranged assess:assessed
assign:assigned attract:attracted avoid:avoided build:built calculate:calculated
celebrate:celebrated change:changed check:checked clarify:clarified
collect:collected combine:combined complete:completed confirm:confirmed
consider:considered construct:constructed contact:contacted continue:continued
create:created criticize:criticized debate:debated define:defined
deliver:delivered describe:described design:designed develop:developed
discover:discovered discuss:discussed display:displayed document:documented
earn:earned encourage:encouraged ensure:ensured establish:established
evaluate:evaluated examine:examined expand:expanded explain:explained
explore:explored express:expressed extend:extended find:found finish:finished
follow:followed gather:gathered generate:generated handle:handled
highlight:highlighted hire:hired host:hosted identify:identified ignore:ignored
implement:implemented improve:improved include:included increase:increased
inspect:inspected install:installed introduce:introduced investigate:investigated
invite:invited join:joined launch:launched lead:led maintain:maintained
make:made manage:managed measure:measured mention:mentioned monitor:monitored
negotiate:negotiated notice:noticed observe:observed obtain:obtained
offer:offered open:opened organize:organized outline:outlined pay:paid
perform:performed plan:planned prepare:prepared present:presented
preserve:preserved produce:produced promote:promoted propose:proposed
protect:protected provide:provided publish:published purchase:purchased
question:questioned receive:received recognize:recognized recommend:recommended
record:recorded reduce:reduced reject:rejected release:released remove:removed
renovate:renovated repair:repaired replace:replaced report:reported
request:requested require:required restore:restored review:reviewed
revise:revised schedule:scheduled secure:secured select:selected send:sent
share:shared study:studied submit:submitted suggest:suggested support:supported
sell:sold tell:told test:tested track:tracked train:trained transform:transformed
update:updated upgrade:upgraded visit:visited welcome:welcomed win:won
""".split()]

# Short, mostly prepositional adverbials; kept plain so they read naturally at
# the start or the end of a sentence.
ADVERBIALS = """
last year|this week|on Monday|on Tuesday|on Wednesday|on Thursday|on Friday|
over the weekend|in recent months|earlier this month|after the meeting|
during the summer|before the election|in the morning|at the end of the day|
for the first time|in the past decade|over the next few years|since the spring|
later that evening|in the meantime|without much warning|after a long delay|
at the last minute|in the coming weeks|throughout the winter|by the end of June
""".replace("\n", "").split("|")

CONNECTORS = """
However|In addition|At the same time|For example|Meanwhile|As a result|
In contrast|According to the report|On the other hand|In many cases|
For this reason|At first|In general|Despite this|Even so|In practice
""".replace("\n", "").split("|")

ADVERBS = """
carefully quickly slowly recently finally clearly nearly openly quietly
largely mostly widely closely directly rarely often usually already also
""".split()

PREPOSITIONS = "in near across around through beyond along within outside behind".split()

# Determiners that precede a singular noun, and those that precede a plural.
# No "that": it would follow "said that" as "that that".
SINGULAR_DETERMINERS = "the the the a this every each our their".split()
PLURAL_DETERMINERS = "the the many several some most these those our their".split()

# Speech verbs for reported statements ("the mayor said that ...").
SAY_VERBS = "said explained argued noted suggested believed claimed reported admitted".split()
PRONOUNS = "we they he she it I you we they".split()
MODALS = "will would could should might may must".split()


def plural(noun: str) -> str:
    """Regular English plural; the noun list avoids irregular forms."""
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def article_for(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"
