"""The query set over the support FAQ corpus (bench/data/support-faq.jsonl: the fetchmail, lsof and zlib FAQs),
split once into a tuning half and a test half, written to bench/data/support-faq-queries.json.

Usage: .venv/bin/python bench/support_faq_queries.py     (rewrites the JSON file; the split is fixed)

Kinds, as a support desk meets them (written from the FAQs' text before any search was run on them; a query
and its expected cards are never changed because of what a search engine returns):
  keyword     two or three words as an agent types them ("fetchmail keep fetchall");
  paraphrase  the question in other words, sharing few of the card's words;
  typo        a keyword query or question with a misspelling;
  multi       two or three specific conditions that together pick one card;
  customer    a customer's own voice: first person, chatty, a complaint or a question;
  offtopic    questions no card answers (the right outcome is to hand over).
Tune only on the tuning half; report both.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import faq_queries  # noqa: E402
import support_faq  # noqa: E402

QUERIES = support_faq.DATA / "support-faq-queries.json"

KEYWORD = [
    ("fetchmail keep fetchall", ["fetchmail#O9"]),
    ("fetchmail gmail", ["fetchmail#I9"]),
    ("fetchmail exchange server", ["fetchmail#S2"]),
    ("fetchmail qmail", ["fetchmail#T2"]),
    ("fetchmail ssl tls", ["fetchmail#K5"]),
    ("disable starttls", ["fetchmail#K6"]),
    ("smtp connect failed", ["fetchmail#R1"]),
    ("authorization failure", ["fetchmail#R15"]),
    ("repoll immediately", ["fetchmail#O11"]),
    ("multidrop duplicate copies", ["fetchmail#M8"]),
    ("limitflush oversized", ["fetchmail#O14"]),
    ("nomail cron", ["fetchmail#C8"]),
    ("fetchmail init script", ["fetchmail#C6"]),
    ("fetchmail ssh tunnel", ["fetchmail#K3"]),
    ("lsof deleted files", ["lsof#3.3.3", "lsof#3.3.5", "lsof#10.2.4"]),
    ("lsof slow", ["lsof#3.4"]),
    ("lsof netstat", ["lsof#3.10"]),
    ("lsof wc open file limit", ["lsof#3.19"]),
    ("lsof install", ["lsof#3.33.1"]),
    ("lsof report bug", ["lsof#1.4"]),
    ("device cache file", ["lsof#3.11", "lsof#18.2"]),
    ("lsof +D slow", ["lsof#3.21.5"]),
    ("zlib thread safe", ["zlib#21"]),
    ("zlib zip archives", ["zlib#11"]),
    ("Z_BUF_ERROR deflate", ["zlib#5"]),
    ("zlib 64-bit", ["zlib#26"]),
    ("gzip http deflate encoding", ["zlib#39"]),
]

PARAPHRASE = [
    ("mail vanishes when the link drops mid download", ["fetchmail#D2", "fetchmail#D3"]),
    ("same emails come down every time it runs", ["fetchmail#O9"]),
    ("erase server copies once they are a week old", ["fetchmail#G5"]),
    ("stop sending my login secret in plain text", ["fetchmail#G10"]),
    ("works from the shell but not at boot", ["fetchmail#C6"]),
    ("is there a mailing list for users", ["fetchmail#G6"]),
    ("which mail reader goes well with it", ["fetchmail#G9"]),
    ("deleted mail reappears after a broken connection", ["fetchmail#O4"]),
    ("turn off new mail announcements on my terminals", ["fetchmail#O2"]),
    ("messages are not delivered sorted by date", ["fetchmail#O7"]),
    ("does it notice edits to its config without restarting", ["fetchmail#O3"]),
    ("add dates to the log lines", ["fetchmail#O13"]),
    ("kill the background poller when I log off", ["fetchmail#C2"]),
    ("check some accounts more frequently than others", ["fetchmail#C5"]),
    ("show only files whose link count is zero", ["lsof#3.3.3"]),
    ("what the program is for", ["lsof#1.1"]),
    ("verify the signature of the downloaded tarball", ["lsof#1.2.3"]),
    ("a process visible in ps has nothing listed", ["lsof#3.16"]),
    ("different owner shown than ps shows", ["lsof#3.28"]),
    ("root sees more open files than a normal user", ["lsof#3.42"]),
    ("the program appears twice in its own output", ["lsof#3.39"]),
    ("widths of the output columns keep changing", ["lsof#14.1"]),
    ("decompress from the middle of a stream", ["zlib#28"]),
    ("data larger than four gigabytes", ["zlib#32"]),
    ("may I ship it inside a closed source product", ["zlib#22"]),
    ("write gzip format to a memory buffer", ["zlib#20"]),
    ("read old unix compress files", ["zlib#12"]),
]

TYPO = [
    ("fetchmial gmail", ["fetchmail#I9"]),
    ("fetchmail authorisation failur", ["fetchmail#R15"]),
    ("multidorp mail goes to root", ["fetchmail#M1"]),
    ("fetchmail keeps retreiving the same mesages", ["fetchmail#O9"]),
    ("smtp conect failed", ["fetchmail#R1"]),
    ("attachmnets mangled", ["fetchmail#X6"]),
    ("fetchmail timming out", ["fetchmail#R8", "fetchmail#R9"]),
    ("fetchmal hangs with pppd", ["fetchmail#H1"]),
    ("sendmial anti spam", ["fetchmail#C4"]),
    ("fetchmail microsft exchange", ["fetchmail#S2"]),
    ("why is lsof so slwo", ["lsof#3.4"]),
    ("lsof netsat output dont match", ["lsof#3.10"]),
    ("lsof delted file path", ["lsof#3.3.3", "lsof#3.3.5", "lsof#10.2.4"]),
    ("lsfo can't identify protocol", ["lsof#10.2.2"]),
    ("lsof regualr expression", ["lsof#3.37.1", "lsof#3.37.2", "lsof#3.37.3"]),
    ("instal lsof", ["lsof#3.33.1"]),
    ("zlib thred safe", ["zlib#21"]),
    ("zlib licence comercial use", ["zlib#22"]),
    ("infalte Z_BUF_ERROR", ["zlib#5"]),
    ("zlib shared libary unix", ["zlib#13", "zlib#14"]),
]

MULTI = [
    ("fetchmail with pppd and the monitor option not working", ["fetchmail#O8"]),
    ("fetchmail timing out after certain messages but before deleting them on Red Hat", ["fetchmail#R8"]),
    ("multidrop mail for local names all delivered to root", ["fetchmail#M1"]),
    ("majordomo mailing list with multidrop mode", ["fetchmail#M6"]),
    ("IMAP server from UW with POP3 keeps the first message X-IMAP header", ["fetchmail#O15"]),
    ("451 SMTP response and fetchmail does not expunge", ["fetchmail#O12"]),
    ("logfile option fails when the log file does not exist yet", ["fetchmail#O1"]),
    ("upgraded OpenSSL and certificates in sslcertpath stopped working c_rehash", ["fetchmail#R14"]),
    ("envelope Delivered-To header with qvirtual prefix", ["fetchmail#T2"]),
    ("running as root without a fetchmailrc on my own machine", ["fetchmail#C1"]),
    ("Domino IMAP missing Content-Transfer-Encoding", ["fetchmail#X9"]),
    ("Linux kernel logs application bug race in MSG_PEEK", ["fetchmail#O17"]),
    ("lsof -i shows a socket but lsof -p for that pid shows nothing", ["lsof#3.49"]),
    ("file open in vi not found by lsof", ["lsof#3.13"]),
    ("NFS locks not reported by lsof", ["lsof#3.8"]),
    ("Linux lsof DEL file type for deleted mapped file", ["lsof#10.3.1"]),
    ("lsof exit code says nothing found though some files were listed", ["lsof#3.21.3"]),
    ("lsof -n shows IPv4 addresses in IPv6 notation", ["lsof#14.4.1"]),
    ("personal device cache file in /tmp", ["lsof#18.2.3"]),
    ("gzip complains about data made with compress or deflate", ["zlib#18"]),
    ("valgrind conditional jump on uninitialised value in deflate", ["zlib#36"]),
    ("exchange compressed data between big-endian and little-endian machines", ["zlib#25"]),
]

CUSTOMER = [
    ("my huge emails over the size limit used to get deleted, now they just pile up on the server, why?",
     ["fetchmail#O14"]),
    ("i set everything up like the docs say but no mail ever shows up in my inbox, what am I missing?",
     ["fetchmail#D1"]),
    ("every single time fetchmail runs I get the same 200 emails again, this is driving me nuts",
     ["fetchmail#O9"]),
    ("my internet dropped while fetching and now half my email is just gone. where did it go?",
     ["fetchmail#D2", "fetchmail#D3"]),
    ("cron keeps emailing me an error whenever there's no new mail, can I make it shut up?", ["fetchmail#C8"]),
    ("I can't get fetchmail to log in to my google account anymore, it used to work fine", ["fetchmail#I9"]),
    ("hi, fetchmail works when I type it in but the boot script version does nothing. help?", ["fetchmail#C6"]),
    ("we get three copies of every list message in our office, each person gets duplicates, why??",
     ["fetchmail#M8"]),
    ("after the latest update fetchmail refuses to connect over ssl, nothing changed on my side",
     ["fetchmail#R14"]),
    ("my log is full of 'Repoll immediately' lines, is something broken?", ["fetchmail#O11"]),
    ("attachments arrive corrupted or missing since we started using fetchmail", ["fetchmail#X6"]),
    ("fetchmail just freezes partway through downloading my mail and never finishes", ["fetchmail#H3"]),
    ("I don't want my password going over the network unencrypted, what are my options?", ["fetchmail#G10"]),
    ("the mail log says the message came from me instead of the real sender, that's wrong", ["fetchmail#O5"]),
    ("whenever mail arrives my terminal gets spammed with the headers, how do I stop that", ["fetchmail#O2"]),
    ("I think I found a bug in fetchmail, what info should I send you?", ["fetchmail#G3"]),
    ("my disk is full but du doesn't show where the space went, someone said a deleted file is still open",
     ["lsof#3.3.3"]),
    ("lsof takes forever to print anything on our server, it just sits there", ["lsof#3.4"]),
    ("I ran lsof as my normal user and it shows way fewer files than when my admin runs it", ["lsof#3.42"]),
    ("I counted lsof lines with wc and got more than the open file limit, is the box about to fall over?",
     ["lsof#3.19"]),
    ("lsof says (deleted) next to some file names on my linux box, what does that mean?", ["lsof#10.2.4"]),
    ("lsof complains that it can't open /dev/kmem, do I need to be root?", ["lsof#3.25"]),
    ("can we use zlib in our paid app without open sourcing our code?", ["zlib#22"]),
    ("our legal team wants you to sign and fax back a contract before we use zlib", ["zlib#44"]),
    ("is zlib going to break if two threads use it at the same time?", ["zlib#21"]),
    ("I need to jump into the middle of a big compressed file without unpacking it all, possible?",
     ["zlib#28"]),
]

OFFTOPIC = [
    "how do I reset my online banking password", "what time does the pharmacy close", "recipe for lasagne",
    "book a flight to lisbon", "how do I change a car tyre", "cancel my gym membership",
    "what is the weather tomorrow", "my printer prints blank pages", "how do I center a div in css",
    "who won the football match last night", "renew my passport", "my phone screen is cracked",
    "how do I train a puppy", "best hiking trails near me", "pay my electricity bill",
]


def build():
    out = []
    for kind, pairs in (("keyword", KEYWORD), ("paraphrase", PARAPHRASE), ("typo", TYPO), ("multi", MULTI),
                        ("customer", CUSTOMER)):
        out += [{"query": q, "kind": kind, "expected": list(e)} for q, e in pairs]
    out += [{"query": q, "kind": "offtopic", "expected": []} for q in OFFTOPIC]
    texts = [q["query"] for q in out]
    if len(texts) != len(set(texts)):
        raise SystemExit("a query is listed twice")
    faq_queries._split(out)  # the same fixed split: by a hash of the text, alternately, within each kind
    faq_queries.check_expected(out, {row["external_id"] for row in support_faq.rows()})
    return out


def load(half=None, path=QUERIES):
    return faq_queries.load(half, path)


def main():
    faq_queries.write(build(), QUERIES, "bench/data/support-faq.jsonl", __doc__.split("\n\n")[2])


if __name__ == "__main__":
    main()
