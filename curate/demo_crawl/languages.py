"""Sentence parts in ten non-English languages.

A sentence is ``subject + predicate`` (+ an adverbial), so a few dozen real
phrases per language combine into hundreds of distinct, grammatical sentences
that a language identifier such as fastText lid.176 recognises. Subjects are
third person singular and predicates are in a tense that does not agree in
gender, so every combination stays grammatical (Arabic subjects are all
masculine for the same reason).

The six Latin-script European languages avoid characters outside ISO-8859-1
(no curly quotes, no "oe" ligature) so their pages can be served in latin-1.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str
    subjects: tuple[str, ...]
    predicates: tuple[str, ...]  # without final punctuation
    adverbials: tuple[str, ...]
    space: str = " "  # "" for scripts written without spaces
    stop: str = "."
    adverbial_first: bool = False  # where a time phrase goes in this language
    comma: str = ","


def _parts(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.strip().splitlines() if line.strip())


LANGUAGES: dict[str, Language] = {}


def _add(lang: Language) -> None:
    LANGUAGES[lang.code] = lang


_add(Language("de", _parts("""
Die Stadtverwaltung
Unser Nachbar
Der neue Bürgermeister
Die Schule in unserem Viertel
Das kleine Unternehmen
Die Regierung
Meine Schwester
Der Verein
Jeder Student
Die Bibliothek
Das Krankenhaus
Der Lehrer
Die Polizei
Das Museum
Ein junger Mann aus Berlin
Die Firma
Der Bauer
Die Zeitung
Das Team
Die Familie
"""), _parts("""
baut eine neue Brücke über den Fluss
hat die Pläne für das Projekt vorgestellt
arbeitet jeden Tag sehr hart
sucht neue Mitarbeiter für das Büro
möchte mehr Geld für die Bildung ausgeben
spricht mit den Bürgern über die Zukunft
ist mit dem Ergebnis sehr zufrieden
hat das alte Haus am Markt gekauft
fährt jeden Morgen mit dem Fahrrad zur Arbeit
bietet kostenlose Kurse für Kinder an
kennt die Probleme der Menschen auf dem Land
plant ein großes Fest im Sommer
hat einen Brief an die Regierung geschrieben
lädt alle Nachbarn zu einem Treffen ein
will die Straßen in der Innenstadt erneuern
sieht die Entwicklung mit großer Sorge
hat viele Fragen zu den neuen Regeln
bleibt auch in diesem Jahr geöffnet
erklärt die Gründe für die Entscheidung
braucht dringend mehr Hilfe
"""), _parts("""
im nächsten Jahr
seit vielen Jahren
am Wochenende
in der letzten Woche
nach langer Diskussion
trotz des schlechten Wetters
jeden Tag
""")))

_add(Language("fr", _parts("""
La mairie
Notre voisin
Le nouveau directeur
Le petit restaurant du quartier
Le gouvernement
Ma soeur
Chaque étudiant
La bibliothèque municipale
Le médecin de famille
Le musée
Une jeune entreprise
Le conseil régional
Le professeur
La police
Le journal local
La famille de mon ami
Le club de football
Le président de l'association
Cette ville
Le boulanger
"""), _parts("""
construit une nouvelle école pour les enfants
a présenté son projet aux habitants
travaille tous les jours avec beaucoup de soin
cherche des bénévoles pour le festival
veut investir dans les transports publics
parle avec les citoyens de l'avenir de la région
apprécie beaucoup le résultat
a acheté la vieille maison près de la gare
prend le train chaque matin pour aller au travail
propose des cours gratuits pour les adultes
connaît bien les problèmes de la campagne
organise une grande fête en été
a écrit une lettre au ministre
invite tous les voisins à une réunion
veut rénover les rues du centre
suit la situation avec attention
ne ferme pas pendant les vacances
explique les raisons de sa décision
a besoin de plus de temps
ouvre ses portes au public
"""), _parts("""
l'année prochaine
depuis plusieurs années
pendant le week-end
la semaine dernière
après une longue discussion
malgré le mauvais temps
chaque jour
""")))

_add(Language("es", _parts("""
El ayuntamiento
Nuestro vecino
El nuevo director
El pequeño restaurante del barrio
El gobierno
Mi hermana
Cada estudiante
La biblioteca pública
El médico del pueblo
El museo
Una empresa joven
El consejo regional
La profesora
La policía
El periódico local
La familia de mi amigo
El equipo de fútbol
La presidenta de la asociación
Esta ciudad
El panadero
"""), _parts("""
construye una nueva escuela para los niños
ha presentado su proyecto a los vecinos
trabaja todos los días con mucho cuidado
busca voluntarios para el festival
quiere invertir en el transporte público
habla con los ciudadanos sobre el futuro de la región
se alegra mucho del resultado
ha comprado la casa vieja cerca de la estación
toma el tren cada mañana para ir al trabajo
ofrece clases gratuitas para adultos
conoce bien los problemas del campo
organiza una gran fiesta en verano
ha escrito una carta al ministro
invita a todos los vecinos a una reunión
quiere renovar las calles del centro
sigue la situación con atención
no cierra durante las vacaciones
explica las razones de su decisión
necesita más tiempo y más dinero
abre sus puertas al público
"""), _parts("""
el próximo año
desde hace varios años
durante el fin de semana
la semana pasada
después de una larga discusión
a pesar del mal tiempo
todos los días
""")))

_add(Language("it", _parts("""
Il comune
Il nostro vicino
Il nuovo direttore
Il piccolo ristorante del quartiere
Il governo
Mia sorella
Ogni studente
La biblioteca comunale
Il medico di famiglia
Il museo
Una giovane azienda
Il consiglio regionale
La professoressa
La polizia
Il giornale locale
La famiglia del mio amico
La squadra di calcio
Il presidente della associazione
Questa città
Il fornaio
"""), _parts("""
costruisce una nuova scuola per i bambini
ha presentato il suo progetto ai cittadini
lavora ogni giorno con molta attenzione
cerca volontari per il festival
vuole investire nei trasporti pubblici
parla con i cittadini del futuro della regione
apprezza molto il risultato
ha comprato la vecchia casa vicino alla stazione
prende il treno ogni mattina per andare al lavoro
offre corsi gratuiti per gli adulti
conosce bene i problemi della campagna
organizza una grande festa in estate
ha scritto una lettera al ministro
invita tutti i vicini a una riunione
vuole rinnovare le strade del centro
segue la situazione con attenzione
non chiude durante le vacanze
spiega le ragioni della sua decisione
ha bisogno di più tempo
apre le sue porte al pubblico
"""), _parts("""
il prossimo anno
da molti anni
durante il fine settimana
la settimana scorsa
dopo una lunga discussione
nonostante il brutto tempo
ogni giorno
""")))

_add(Language("pt", _parts("""
A prefeitura
O nosso vizinho
O novo diretor
O pequeno restaurante do bairro
O governo
A minha irmã
Cada estudante
A biblioteca pública
O médico da cidade
O museu
Uma empresa jovem
O conselho regional
A professora
A polícia
O jornal local
A família do meu amigo
O time de futebol
A presidente da associação
Esta cidade
O padeiro
"""), _parts("""
constrói uma nova escola para as crianças
apresentou o seu projeto aos moradores
trabalha todos os dias com muito cuidado
procura voluntários para o festival
quer investir no transporte público
conversa com os cidadãos sobre o futuro da região
gosta muito do resultado
comprou a casa velha perto da estação
pega o trem todas as manhãs para ir ao trabalho
oferece aulas gratuitas para adultos
conhece bem os problemas do campo
organiza uma grande festa no verão
escreveu uma carta ao ministro
convida todos os vizinhos para uma reunião
quer reformar as ruas do centro
acompanha a situação com atenção
não fecha durante as férias
explica as razões da sua decisão
precisa de mais tempo
abre as suas portas ao público
"""), _parts("""
no próximo ano
há muitos anos
durante o fim de semana
na semana passada
depois de uma longa discussão
apesar do mau tempo
todos os dias
""")))

_add(Language("nl", _parts("""
De gemeente
Onze buurman
De nieuwe directeur
Het kleine restaurant in de wijk
De regering
Mijn zus
Elke student
De openbare bibliotheek
De huisarts
Het museum
Een jong bedrijf
De provincie
De lerares
De politie
De lokale krant
De familie van mijn vriend
De voetbalclub
De voorzitter van de vereniging
Deze stad
De bakker
"""), _parts("""
bouwt een nieuwe school voor de kinderen
heeft het plan aan de bewoners gepresenteerd
werkt elke dag heel hard
zoekt vrijwilligers voor het festival
wil meer geld uitgeven aan het openbaar vervoer
praat met de inwoners over de toekomst van de regio
is erg tevreden met het resultaat
heeft het oude huis bij het station gekocht
neemt elke ochtend de trein naar het werk
biedt gratis lessen aan voor volwassenen
kent de problemen van het platteland goed
organiseert een groot feest in de zomer
heeft een brief aan de minister geschreven
nodigt alle buren uit voor een vergadering
wil de straten in het centrum vernieuwen
volgt de situatie met grote aandacht
blijft open tijdens de vakantie
legt de redenen voor het besluit uit
heeft meer tijd nodig
opent zijn deuren voor het publiek
"""), _parts("""
volgend jaar
al jaren
in het weekend
vorige week
na een lange discussie
ondanks het slechte weer
elke dag
""")))

_add(Language("ru", _parts("""
Городской совет
Наш сосед
Новый директор
Маленький ресторан в нашем районе
Правительство
Моя сестра
Каждый студент
Городская библиотека
Семейный врач
Музей
Молодая компания
Областная администрация
Учительница
Полиция
Местная газета
Семья моего друга
Футбольный клуб
Председатель общества
Этот город
Пекарь
"""), _parts("""
строит новую школу для детей
представляет свой проект жителям
работает каждый день очень много
ищет добровольцев для фестиваля
хочет вложить деньги в общественный транспорт
говорит с жителями о будущем региона
радуется результату
покупает старый дом рядом с вокзалом
каждое утро ездит на работу на поезде
предлагает бесплатные курсы для взрослых
хорошо знает проблемы деревни
готовит большой праздник летом
пишет письмо министру
приглашает всех соседей на собрание
хочет обновить улицы в центре
внимательно следит за ситуацией
не закрывается во время каникул
объясняет причины своего решения
нуждается в помощи
открывает свои двери для посетителей
"""), _parts("""
в следующем году
уже много лет
на выходных
на прошлой неделе
после долгого обсуждения
несмотря на плохую погоду
каждый день
""")))

_add(Language("zh", _parts("""
市政府
我们的邻居
新来的校长
附近的小饭馆
这家公司
我的妹妹
每个学生
市图书馆
那位医生
博物馆
一家年轻的企业
地方政府
我们的老师
警察
当地的报纸
我朋友的家人
这个足球队
协会的主席
这座城市
面包店的老板
"""), _parts("""
正在为孩子们建一所新学校
向居民介绍了这个项目
每天都很认真地工作
正在为音乐节寻找志愿者
打算在公共交通上投入更多的钱
和市民讨论这个地区的未来
对这个结果非常满意
买下了火车站旁边的老房子
每天早上坐火车去上班
为成年人提供免费的课程
很了解农村的问题
计划在夏天举办一个大型活动
给部长写了一封信
邀请所有的邻居参加会议
希望改造市中心的街道
一直在关注这个情况
假期期间也照常开放
解释了做出这个决定的原因
需要更多的时间和帮助
向公众开放了大门
"""), _parts("""
明年
多年来
周末
上个星期
经过长时间的讨论
尽管天气不好
每天
"""), space="", stop="。", adverbial_first=True, comma="，"))

_add(Language("ja", _parts("""
市役所は
私の隣人は
新しい校長先生は
近所の小さなレストランは
この会社は
私の妹は
学生たちは
市立図書館は
その医者は
博物館は
若い企業は
地方自治体は
私たちの先生は
警察は
地元の新聞は
友達の家族は
このサッカーチームは
協会の会長は
この町は
パン屋の主人は
"""), _parts("""
子供たちのために新しい学校を建てています
住民にこの計画を説明しました
毎日とてもまじめに働いています
お祭りのボランティアを探しています
公共交通機関にもっとお金を使いたいと考えています
地域の将来について市民と話し合いました
その結果にとても満足しています
駅の近くの古い家を買いました
毎朝電車で会社に行きます
大人のための無料の講座を開いています
田舎の問題をよく知っています
夏に大きなイベントを計画しています
大臣に手紙を書きました
近所の人をみんな会議に招待しました
町の中心の道路を新しくしたいと思っています
この状況を注意深く見守っています
休みの間も開いています
その決定の理由を説明しました
もっと時間と助けが必要です
一般の人々に扉を開きました
"""), _parts("""
来年
何年も前から
週末に
先週
長い話し合いの後で
天気が悪いにもかかわらず
毎日
"""), space="", stop="。", adverbial_first=True, comma="、"))

_add(Language("ar", _parts("""
المجلس البلدي
جارنا
المدير الجديد
المطعم الصغير في الحي
الوزير
أخي الكبير
كل طالب
المتحف الوطني
الطبيب
البنك المركزي
الفريق
الرئيس
المعلم
المشروع الجديد
الموقع الإخباري
صديقي
النادي الرياضي
رئيس الجمعية
هذا البرنامج
الخباز
"""), _parts("""
يبني مدرسة جديدة للأطفال
يقدم خطته إلى السكان
يعمل كل يوم بجد كبير
يبحث عن متطوعين للمهرجان
يريد أن يستثمر في النقل العام
يتحدث مع المواطنين عن مستقبل المنطقة
راض جدا عن النتيجة
يشتري البيت القديم قرب المحطة
يذهب إلى العمل بالقطار كل صباح
يقدم دروسا مجانية للكبار
يعرف مشاكل الريف جيدا
ينظم حفلا كبيرا في الصيف
يكتب رسالة إلى الحكومة
يدعو جميع الجيران إلى اجتماع
يريد تجديد الشوارع في وسط المدينة
يتابع الوضع باهتمام كبير
يبقى مفتوحا خلال العطلة
يشرح أسباب قراره
يحتاج إلى مزيد من الوقت
يفتح أبوابه للجمهور
"""), _parts("""
في العام المقبل
منذ سنوات طويلة
في نهاية الأسبوع
في الأسبوع الماضي
بعد نقاش طويل
رغم سوء الطقس
كل يوم
"""), comma="،"))

# Page furniture per language, so a foreign article's menu and footer are in
# its own language as on a real site.
NAV = {
    "de": "Startseite Politik Wirtschaft Sport Kultur Reise Kontakt".split(),
    "fr": "Accueil Politique Économie Sport Culture Voyage Contact".split(),
    "es": "Inicio Política Economía Deportes Cultura Viajes Contacto".split(),
    "it": "Home Politica Economia Sport Cultura Viaggi Contatti".split(),
    "pt": "Início Política Economia Esporte Cultura Viagem Contato".split(),
    "nl": "Home Politiek Economie Sport Cultuur Reizen Contact".split(),
    "ru": "Главная Политика Экономика Спорт Культура Путешествия Контакты".split(),
    "zh": "首页 政治 经济 体育 文化 旅游 联系我们".split(),
    "ja": "ホーム 政治 経済 スポーツ 文化 旅行 お問い合わせ".split(),
    "ar": "الرئيسية سياسة اقتصاد رياضة ثقافة سفر اتصل".split(),
}

LATIN1_LANGUAGES = ("de", "fr", "es", "it", "pt", "nl")
