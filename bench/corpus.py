"""A large, realistic mail store generated straight into PostgreSQL, for ``reading.py``.

Messages are not sent through the pipeline (1,000,000 would take the ingest path
hours): the rows are written by ``INSERT ... SELECT generate_series`` on the server,
into the schema the mail store's own migrations created, with every column the
consumer fills (raw message, parsed fields, ``search`` tsvector, mailbox entries,
attachments).

What is realistic about it, and what is not:

- words follow a Zipf law over ~350 common English words and a long tail of
  invented ones, so a tail word is in a handful of messages and "the" in all;
- bodies are 150-1,100 words (median ~300), raw messages 2-8 KB with the headers a
  real one carries (Received, DKIM-Signature, Message-ID...); 30 % have an HTML body,
  4 % one small attachment;
- the text comes from a pool of ``bodies`` distinct bodies (10,000 at full size), each
  reused by about 1 in 10,000 messages, plus a per-message reference number (a unique
  word) in the subject line. The tsvector of each pool body is computed once and
  concatenated with the subject's, the sender's and the recipient's, which is what
  ``to_tsvector`` of the consumer's search text would give (positions included);
- the secondary indexes are dropped during the load and rebuilt from their own
  definitions (``pg_indexes``) afterwards, as a restore would; then VACUUM ANALYZE.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

COMMON = """
the of and to a in is it you that he was for on are with as his they be at one have this
from or had by not word but what some we can out other were all there when up use your
how said an each she which do their time if will way about many then them write would
like so these her long make thing see him two has look more day could go come did number
sound no most people my over know water than call first who may down side been now find
any new work part take get place made live where after back little only round man year
came show every good me give our under name very through just form sentence great think
say help low line differ turn cause much mean before move right boy old too same tell
does set three want air well also play small end put home read hand port large spell add
even land here must big high such follow act why ask men change went light kind off need
house picture try us again animal point mother world near build self earth father head
stand own page should country found answer school grow study still learn plant cover
food sun four between state keep eye never last let thought city tree cross farm hard
start might story saw far sea draw left late run while press close night real life few
north open seem together next white children begin got walk example ease paper group
always music those both mark often letter until mile river car feet care second book
carry took science eat room friend began idea fish mountain stop once base hear horse
cut sure watch color face wood main enough plain girl usual young ready above ever red
list though feel talk bird soon body dog family direct pose leave song measure door
product black short numeral class wind question happen complete ship area half rock
order fire south problem piece told knew pass since top whole king space heard best hour
better during hundred five remember step early hold west ground interest reach fast verb
sing listen six table travel less morning ten simple several vowel toward war lay
against pattern slow center love person money serve appear road map rain rule govern
pull cold notice voice unit power town fine certain fly fall lead cry dark machine note
wait plan figure star box noun field rest correct able pound done beauty drive stood
contain front teach week final gave green quick develop ocean warm free minute strong
special mind behind clear tail produce fact street inch multiply nothing course stay
wheel full force blue object decide surface deep moon island foot system busy test
record boat common gold possible plane stead dry wonder laugh thousand ago ran check
game shape equate miss brought heat snow tire bring yes distant fill east paint language
among meeting invoice report project deadline budget review schedule attached please
thanks regards team
""".split()  # noqa: SIM905 - a word list reads better as words
SYLLABLES = """
ba be bi bo bu ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no nu ra re ri ro
ru sa se si so su ta te ti to tu va ve vi vo vu zor tel van mar kin dor len bel sar fin
gol hur jin quen pra stro vel wix yul zan
""".split()  # noqa: SIM905 - a word list reads better as words
FIRST = """
Alice Bob Carol David Erin Frank Grace Heidi Ivan Judy Karl Laura Mallory Niaj Olivia
Peggy Quentin Rupert Sybil Trent Ursula Victor Walter Xavier Yvonne Zoe Amir Bea Chen
Dana Emeka Farah Goran Hana Ines Jonas Kenji Lena Marta Nils Omar Priya Rosa Sven Tomas
Uma Vera Wei Yusuf
""".split()  # noqa: SIM905 - a word list reads better as words
LAST = """
Smith Jones Garcia Miller Davis Lopez Wilson Anderson Thomas Taylor Moore Jackson Martin
Lee Perez Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright
Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell
Carter Roberts Novak Kowalski Schmidt Rossi Dubois Tanaka Silva Okafor
""".split()  # noqa: SIM905 - a word list reads better as words
DOMAINS = """
example.com example.org example.net mail.example widgets.example acme.example
initech.example globex.example umbrella.example hooli.example vandelay.example
""".split()  # noqa: SIM905 - a word list reads better as words
PHRASE_SAMPLE = 2000  # bodies whose word pairs are counted to choose the phrase
SUBJECT_HEADS = ["", "", "", "Re: ", "Re: ", "Fwd: ", "[team] ", "Re: [project] "]


@dataclass(frozen=True)
class Sizes:
    messages: int = 1_000_000
    reader_share: int = 10  # every Nth message is the reader's: 100,000 of 1,000,000
    bodies: int = 10_000
    subjects: int = 5_000
    people: int = 2_000
    tail_words: int = 150_000
    chunk: int = 50_000
    workers: int = 2


@dataclass
class Corpus:
    """The words a search can ask for, chosen from the generated pool by frequency."""

    common_word: str = ""
    rare_word: str = ""
    phrase: str = ""
    from_term: str = ""
    # How many pool bodies hold each (of ``Sizes.bodies``); messages = about that share.
    frequency: dict[str, float] = field(default_factory=dict)


def vocabulary(rng: random.Random, tail: int) -> list[str]:
    words = list(dict.fromkeys(COMMON))
    seen = set(words)
    while len(words) < len(COMMON) + tail:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def make_body(rng: random.Random, words: list[str], cum: list[float]) -> str:
    count = min(700, max(20, int(rng.lognormvariate(4.4, 0.6))))
    chosen = rng.choices(words, cum_weights=cum, k=count)
    paragraphs, lines, line = [], [], ""
    for n, word in enumerate(chosen):
        if len(line) + len(word) > 72:
            lines.append(line)
            line = ""
        line = f"{line} {word}" if line else word
        if n % 60 == 59:
            lines.append(line + ".")
            paragraphs.append("\n".join(lines))
            lines, line = [], ""
    lines.append(line)
    greeting = f"Hi {rng.choice(FIRST)},\n\n"
    return greeting + "\n\n".join(p for p in ["\n".join(lines), *paragraphs] if p) + "\n"


def pools(
    sizes: Sizes, seed: int = 5
) -> tuple[list[tuple[int, str]], list[tuple[int, str]], list[tuple[int, str, str]], Corpus]:
    rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
    words = vocabulary(rng, sizes.tail_words)
    weights = [1.0 / (rank + 2.7) for rank in range(len(words))]
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)
    bodies = [(n, make_body(rng, words, cum)) for n in range(sizes.bodies)]
    subjects = []
    for n in range(sizes.subjects):
        picked = rng.choices(words[:2000], cum_weights=cum[:2000], k=rng.randint(3, 8))
        subjects.append((n, rng.choice(SUBJECT_HEADS) + " ".join(picked).capitalize()))
    people = []
    for n in range(sizes.people):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        address = f"{first}.{last}{n % 97}@{rng.choice(DOMAINS)}".lower()
        people.append((n, f"{first} {last}", address))
    return bodies, subjects, people, pick_terms(bodies, people, words)


def pick_terms(
    bodies: list[tuple[int, str]], people: list[tuple[int, str, str]], words: list[str]
) -> Corpus:
    """Search terms by measured frequency, so that "common" and "rare" mean something."""
    n = len(bodies)
    df: Counter[str] = Counter()
    pairs: Counter[str] = Counter()
    for k, (_, body) in enumerate(bodies):
        tokens = body.replace(".", " ").replace(",", " ").split()
        df.update(set(tokens))
        if k < PHRASE_SAMPLE:
            pairs.update({f"{a} {b}" for a, b in itertools.pairwise(tokens)})
    content = [w for w in words if len(w) >= 5 and df[w]]
    corpus = Corpus()
    # Common: a content word in about 30 % of the messages ("the" is in all of them).
    corpus.common_word = min(content, key=lambda w: abs(df[w] / n - 0.30))
    # Rare: a word of the fewest pool bodies (one), so in about 1 of every ``bodies`` messages.
    corpus.rare_word = min(content, key=lambda w: (df[w], w))
    # A phrase: two adjacent words that occur together in about 0.2 % of the messages.
    # Of content words (not among the 150 most frequent): two stop words in a row ("been
    # word") are the slowest kind of phrase, measured apart (docs/performance.md, "Reading").
    frequent = {w for w, _ in df.most_common(150)}
    two = [p for p in pairs if all(w.isalpha() and w not in frequent for w in p.split())]
    sample = min(n, PHRASE_SAMPLE)
    corpus.phrase = min(two, key=lambda p: (abs(pairs[p] / sample - 0.002), p))
    # from: a last name, a substring of a few percent of the senders.
    corpus.from_term = people[0][1].split()[1].lower()
    corpus.frequency = {
        corpus.common_word: df[corpus.common_word] / n,
        corpus.rare_word: df[corpus.rare_word] / n,
        corpus.phrase: pairs[corpus.phrase] / sample,
        "from:" + corpus.from_term: sum(corpus.from_term in p[1].lower() for p in people)
        / len(people),
    }
    return corpus


# -- loading ---------------------------------------------------------------------------------

POOL_TABLES = """
CREATE UNLOGGED TABLE bench_bodies (
    n integer PRIMARY KEY, body text NOT NULL, html text, preview text NOT NULL, vec tsvector
);
CREATE UNLOGGED TABLE bench_subjects (n integer PRIMARY KEY, subject text NOT NULL);
CREATE UNLOGGED TABLE bench_people (
    n integer PRIMARY KEY, name text NOT NULL, address text NOT NULL, domain text NOT NULL
);
CREATE UNLOGGED TABLE bench_accounts (
    k integer PRIMARY KEY, id bigint NOT NULL, address text NOT NULL, name text NOT NULL
);
"""
POOL_DERIVED = """
UPDATE bench_bodies SET
    vec = to_tsvector('simple', body),
    preview = left(regexp_replace(body, '\\s+', ' ', 'g'), 200),
    html = CASE WHEN n % 10 < 2 THEN '<html><body><p>'
        || replace(replace(replace(body, '&', '&amp;'), '<', '&lt;'), E'\\n\\n', '</p><p>')
        || '</p></body></html>' END;
ANALYZE bench_bodies; ANALYZE bench_subjects; ANALYZE bench_people; ANALYZE bench_accounts;
"""
DROP_POOLS = """
DROP TABLE IF EXISTS bench_bodies, bench_subjects, bench_people, bench_accounts;
"""
# Message i (0-based) belongs to the reader (k = 0) when i % $3 = 0, else to the bulk
# account (k = 1); received i * $4 seconds after $5; $6 pool bodies, $7 subjects, $8 people,
# each picked by a hash of i (a multiplier would give the reader every tenth body only).
INSERT_MESSAGES = """
INSERT INTO messages (
    id, mail_from, rcpt_to, raw, size, subject, from_name, from_address, to_addrs,
    date, message_id_header, text_body, html_body, preview, has_attachments, received_at,
    search)
SELECT x.id, x.from_address, ARRAY[x.rcpt], x.raw, octet_length(x.raw), x.subject,
       x.from_name, x.from_address,
       jsonb_build_array(jsonb_build_object('name', x.rcpt_name, 'address', x.rcpt)),
       x.at, x.id || '@' || x.domain, x.body, x.html, x.preview, x.i % 25 = 3, x.at,
       to_tsvector('simple', concat_ws(' ', x.subject, x.from_name, x.from_address,
                                       x.rcpt_name, x.rcpt)) || x.vec
FROM (
    SELECT g.i, lpad(g.i::text, 26, '0') AS id, p.name AS from_name, p.address AS from_address,
           p.domain, a.address AS rcpt, a.name AS rcpt_name, b.body, b.html, b.preview, b.vec,
           s.subject || CASE WHEN g.i % 3 = 0 THEN ' (ref ' || (g.i * 7 + 100000) || ')'
                             ELSE '' END AS subject,
           $5::timestamptz + g.i * $4::float8 * interval '1 second' AS at,
           convert_to(concat(
               'Received: from mx.', p.domain, ' (mx.', p.domain, ' [192.0.2.', g.i % 250,
               ']) by mx.localpost.test with ESMTPS id ', g.i, E';\\r\\n\\t',
               to_char($5::timestamptz + g.i * $4::float8 * interval '1 second',
                       'Dy, DD Mon YYYY HH24:MI:SS +0000'), E'\\r\\n',
               'Received: from [10.1.', g.i % 200, '.', g.i % 97, '] by mx.', p.domain,
               E' with ESMTPSA\\r\\n',
               'DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=', p.domain,
               E'; s=sel1;\\r\\n\\th=from:to:subject:date:message-id; bh=', md5(g.i::text),
               E';\\r\\n\\tb=', repeat(md5(p.address || g.i), 8), E'\\r\\n',
               'ARC-Seal: i=1; a=rsa-sha256; t=', g.i, '; cv=none; d=', p.domain,
               E'; s=arc1;\\r\\n\\tb=', repeat(md5(g.i || p.name), 6), E'\\r\\n',
               'ARC-Authentication-Results: i=1; mx.', p.domain, E';\\r\\n\\tdkim=pass',
               ' header.i=@', p.domain, ' header.s=sel1; spf=pass smtp.mailfrom=', p.address,
               E';\\r\\n\\tdmarc=pass (p=NONE sp=NONE dis=NONE) header.from=', p.domain,
               E'\\r\\n', 'Authentication-Results: mx.localpost.test; dkim=pass header.d=',
               p.domain, '; spf=pass smtp.mailfrom=', p.address, E'\\r\\n',
               'List-Unsubscribe: <mailto:unsubscribe+', md5(p.address), '@', p.domain,
               E'>\\r\\nX-Mailer: Localpost bench\\r\\n',
               'Message-ID: <', lpad(g.i::text, 26, '0'), '@', p.domain, E'>\\r\\n',
               'Date: ', to_char($5::timestamptz + g.i * $4::float8 * interval '1 second',
                                 'Dy, DD Mon YYYY HH24:MI:SS +0000'), E'\\r\\n',
               'From: ', p.name, ' <', p.address, E'>\\r\\n',
               'To: ', a.name, ' <', a.address, E'>\\r\\n',
               'Subject: ', s.subject, E'\\r\\n',
               E'MIME-Version: 1.0\\r\\nContent-Type: text/plain; charset=utf-8\\r\\n',
               E'Content-Transfer-Encoding: 8bit\\r\\n\\r\\n',
               replace(b.body, E'\\n', E'\\r\\n')), 'UTF8') AS raw
    FROM generate_series($1::bigint, $2::bigint - 1) AS g(i)
    JOIN bench_accounts a ON a.k = CASE WHEN g.i % $3 = 0 THEN 0 ELSE 1 END
    JOIN bench_bodies b ON b.n = (hashint8(g.i) & 2147483647) % $6
    JOIN bench_subjects s ON s.n = (hashint8(g.i + 1000003) & 2147483647) % $7
    JOIN bench_people p ON p.n = (hashint8(g.i + 2000003) & 2147483647) % $8
) x
"""
# The reader's share is all Inbox; of the bulk account's, 2 % Sent and 2 % Trash. Unread:
# every 7th of the newest fifth ($6 = all messages), as in a mailbox read now and then.
# Conversations (migration 0018) of about three messages each, given here: the trigger
# labels only entries that come without one, and its lookups would scan the messages
# while the load has dropped the indexes.
INSERT_ENTRIES = """
INSERT INTO mailbox_entries (
    account_id, message_id, role, folder_id, restore_folder_id, seen, created_at, trashed_at,
    uid, conversation)
SELECT a.id, lpad(g.i::text, 26, '0'),
       CASE WHEN a.k = 1 AND g.i % 50 = 1 THEN 'sent' ELSE 'received' END,
       CASE WHEN a.k = 0 THEN 'inbox' WHEN g.i % 50 = 1 THEN 'sent'
            WHEN g.i % 50 = 2 THEN 'trash' ELSE 'inbox' END,
       CASE WHEN a.k = 1 AND g.i % 50 = 2 THEN 'inbox' END,
       (a.k = 1 AND g.i % 50 = 1) OR g.i % 7 <> 0 OR g.i < $6::bigint * 4 / 5,
       $4::timestamptz + g.i * $5::float8 * interval '1 second',
       CASE WHEN a.k = 1 AND g.i % 50 = 2 THEN now() END,
       g.i + 1,
       '<c' || a.k || '.' || CASE WHEN a.k = 0 THEN g.i / ($3 * 3) ELSE g.i / 3 END || '@bench>'
FROM generate_series($1::bigint, $2::bigint - 1) AS g(i)
JOIN bench_accounts a ON a.k = CASE WHEN g.i % $3 = 0 THEN 0 ELSE 1 END
"""
# UIDs above are the message's number + 1: rising in arrival order within each folder, as
# the consumer gives them, with gaps. Each folder's UIDNEXT then moves past them.
ADVANCE_UIDNEXT = """
UPDATE folders f SET uidnext = m.top + 1
FROM (SELECT account_id, folder_id, max(uid) AS top FROM mailbox_entries
      GROUP BY account_id, folder_id) m
WHERE f.account_id = m.account_id AND f.id = m.folder_id
"""
INSERT_ATTACHMENTS = """
INSERT INTO attachments (message_id, n, filename, content_type, size, disposition, content)
SELECT lpad(g.i::text, 26, '0'), 0, 'report-' || g.i || '.pdf', 'application/pdf',
       length($3::bytea), 'attachment', $3::bytea
FROM generate_series($1::bigint, $2::bigint - 1) AS g(i) WHERE g.i % 25 = 3
"""
SECONDARY_INDEXES = """
SELECT i.indexname, i.indexdef FROM pg_indexes i
WHERE i.schemaname = current_schema() AND i.tablename = any($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexname::regclass)
ORDER BY i.indexname
"""
DROP_INDEX = "SELECT format('DROP INDEX %I', $1::text)"
LOADED_TABLES = ["messages", "mailbox_entries", "attachments"]
SPAN_SECONDS = 730 * 86400  # two years of mail
ATTACHMENT = b"%PDF-1.4\n" + bytes(range(256)) * 12


async def _session(con: asyncpg.Connection) -> None:
    # This session's own settings, nothing else about the database changes: lz4 makes
    # the load faster; GIN builds measured faster with 24-64 MB than with 512 MB (cache).
    await con.execute("SET default_toast_compression = 'lz4'")
    await con.execute("SET maintenance_work_mem = '32MB'")
    await con.execute("SET synchronous_commit = off")


async def load(
    database_url: str, accounts: Sequence[tuple[int, str, str]], sizes: Sizes
) -> tuple[Corpus, dict[str, float]]:
    """Fill the database; ``accounts`` = (id, address, name) of the reader, then the bulk."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    bodies, subjects, people, corpus = pools(sizes)
    timings["pools_python_s"] = time.perf_counter() - started
    con = await asyncpg.connect(database_url)
    try:
        await _session(con)
        step = time.perf_counter()
        await con.execute(DROP_POOLS + POOL_TABLES)
        await con.copy_records_to_table(
            "bench_bodies",
            records=[(n, b, "") for n, b in bodies],
            columns=["n", "body", "preview"],
        )
        await con.copy_records_to_table("bench_subjects", records=subjects)
        await con.copy_records_to_table(
            "bench_people", records=[(n, nm, ad, ad.split("@")[1]) for n, nm, ad in people]
        )
        await con.copy_records_to_table(
            "bench_accounts", records=[(k, a[0], a[1], a[2]) for k, a in enumerate(accounts)]
        )
        await con.execute(POOL_DERIVED)
        timings["pools_sql_s"] = time.perf_counter() - step
        step = time.perf_counter()
        indexes = await con.fetch(SECONDARY_INDEXES, LOADED_TABLES)
        for row in indexes:
            await con.execute(await con.fetchval(DROP_INDEX, row["indexname"]))
        origin = await con.fetchval("SELECT now() - $1::float8 * interval '1 second'", SPAN_SECONDS)
        await _fill(database_url, sizes, origin)
        await con.execute(ADVANCE_UIDNEXT)
        timings["rows_s"] = time.perf_counter() - step
        step = time.perf_counter()
        await _build_indexes(database_url, [row["indexdef"] for row in indexes], sizes.workers)
        timings["indexes_s"] = time.perf_counter() - step
        step = time.perf_counter()
        await con.execute(DROP_POOLS)
        # The visibility map lets counts run as index-only scans, as autovacuum would have
        # allowed on a mailbox that grew over two years.
        await con.execute("VACUUM ANALYZE mailbox_entries")
        await con.execute("VACUUM ANALYZE attachments")
        await con.execute("ANALYZE messages")
        # The load leaves gigabytes of dirty pages, which the checkpointer would otherwise
        # write out during the measurement: a mailbox that grew over two years has none.
        await con.execute("CHECKPOINT")
        timings["vacuum_analyze_s"] = time.perf_counter() - step
    finally:
        await con.close()
    timings["total_s"] = time.perf_counter() - started
    return corpus, timings


async def _fill(database_url: str, sizes: Sizes, origin: object) -> None:
    chunks = asyncio.Queue[tuple[int, int]]()
    for lo in range(0, sizes.messages, sizes.chunk):
        chunks.put_nowait((lo, min(sizes.messages, lo + sizes.chunk)))
    step = SPAN_SECONDS / sizes.messages

    async def worker() -> None:
        con = await asyncpg.connect(database_url)
        try:
            await _session(con)
            while not chunks.empty():
                lo, hi = chunks.get_nowait()
                async with con.transaction():
                    await con.execute(
                        INSERT_MESSAGES, lo, hi, sizes.reader_share, step, origin,
                        sizes.bodies, sizes.subjects, sizes.people,
                    )  # fmt: skip
                    await con.execute(
                        INSERT_ENTRIES, lo, hi, sizes.reader_share, origin, step, sizes.messages
                    )
                    await con.execute(INSERT_ATTACHMENTS, lo, hi, ATTACHMENT)
        finally:
            await con.close()

    await asyncio.gather(*(worker() for _ in range(sizes.workers)))


async def _build_indexes(database_url: str, definitions: list[str], workers: int) -> None:
    # The GIN index is the long one: it starts first, the B-trees share the other worker.
    pending = sorted(definitions, key=lambda d: "USING gin" not in d)

    async def worker() -> None:
        con = await asyncpg.connect(database_url)
        try:
            await _session(con)
            while pending:
                await con.execute(pending.pop(0))
        finally:
            await con.close()

    await asyncio.gather(*(worker() for _ in range(workers)))
