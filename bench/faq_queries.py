"""The query sets over the Python FAQ corpus (bench/data/python-faq.jsonl), split once into a tuning half
and a test half, written to bench/data/python-faq-queries.json (the file the benches read).

Usage: .venv/bin/python bench/faq_queries.py     (rewrites the JSON file; the split is fixed)

Kinds, as the chatbot meets them:
  exact     every question exactly as the FAQ asks it;
  near      the same question with case, punctuation or stop words changed ("so how do i … then");
  order     pairs with the same words in another order, each pointing at its own question
            ("convert a string to a number" / "… a number to a string"); a pair stays in one half;
  symbol    questions that are mostly code or symbols ("-22 // 10", "a_tuple[i] += ['item']");
  paraphrase  what an agent or a customer would type instead of the FAQ's words;
  offtopic  questions no card answers (the right outcome is to hand over).
Tune only on the tuning half; report both.
"""
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import faq_corpus  # noqa: E402

QUERIES = faq_corpus.DATA / "python-faq-queries.json"
P, D, L, G, E, W, U, I = ("programming", "design", "library", "general", "extending", "windows", "gui",
                          "installed")

ORDER = [  # (question, expected), in pairs
    [("How do I convert a string to a number?", [(P, "how-do-i-convert-a-string-to-a-number")]),
     ("How do I convert a number to a string?", [(P, "how-do-i-convert-a-number-to-a-string")])],
    [("convert string to number", [(P, "how-do-i-convert-a-string-to-a-number")]),
     ("convert number to string", [(P, "how-do-i-convert-a-number-to-a-string")])],
    [("how do I turn a string into a number", [(P, "how-do-i-convert-a-string-to-a-number")]),
     ("how do I turn a number into a string", [(P, "how-do-i-convert-a-number-to-a-string")])],
    [("access a Python module from C", [(E, "how-do-i-access-a-module-written-in-python-from-c")]),
     ("access C++ objects from Python", [(E, "how-do-i-interface-to-c-objects-from-python")])],
    [("call Python from C", [(E, "how-do-i-access-a-module-written-in-python-from-c"),
                             (E, "how-can-i-execute-arbitrary-python-statements-from-c")]),
     ("call C from Python", [(E, "can-i-create-my-own-functions-in-c"), (E, "writing-c-is-hard-are-there-any-alternatives"),
                             (E, "how-do-i-interface-to-c-objects-from-python")])],
    [("number to string conversion", [(P, "how-do-i-convert-a-number-to-a-string")]),
     ("string to number conversion", [(P, "how-do-i-convert-a-string-to-a-number")])],
]

SYMBOL = [
    ("Why does -22 // 10 return -3?", [(P, "why-does-22-10-return-3")]),
    ("-22 // 10", [(P, "why-does-22-10-return-3")]),
    ("why is -22//10 == -3", [(P, "why-does-22-10-return-3")]),
    ("-190 % 12 == 2", [(P, "why-does-22-10-return-3")]),
    ("a_tuple[i] += ['item']", [(P, "why-does-a-tuple-i-item-raise-an-exception-when-the-addition-works")]),
    ("tuple += list TypeError", [(P, "why-does-a-tuple-i-item-raise-an-exception-when-the-addition-works")]),
    ("C's ?: operator in Python", [(P, "is-there-an-equivalent-of-c-s-ternary-operator")]),
    ("x if c else y", [(P, "is-there-an-equivalent-of-c-s-ternary-operator")]),
    ("__import__('x.y.z')", [(P, "import-x-y-z-returns-module-x-how-do-i-get-z")]),
    ("_SomeClassName__spam", [(P, "i-try-to-use-spam-and-i-get-an-error-about-someclassname-spam")]),
    ("__del__ not called", [(P, "my-class-defines-del-but-it-is-not-called-when-i-delete-the-object")]),
    ("int('0x144', 16)", [(P, "how-do-i-convert-a-string-to-a-number")]),
    ("0xa5 0o17 literals", [(P, "how-do-i-specify-hexadecimal-and-octal-integers")]),
    ("list.sort() returns None", [(D, "why-doesn-t-list-sort-return-the-sorted-list")]),
    ("len(list) vs list.len()", [(D, "why-does-python-use-methods-for-some-functionality-e-g-list-index-but-functions-for-other-e-g-len-list")]),
    ("\", \".join(list)", [(D, "why-is-join-a-string-method-instead-of-a-list-or-tuple-method")]),
    ("r\"C:\\dir\\\"", [(D, "why-can-t-raw-strings-r-strings-end-with-a-backslash")]),
    ("os.kill() on Windows", [(W, "how-do-i-emulate-os-kill-in-windows")]),
    ("*.pyd vs .dll", [(W, "is-a-pyd-file-the-same-as-a-dll")]),
    ("g++ __builtin_new undefined", [(E, "how-do-i-find-undefined-g-symbols-builtin-new-or-pure-virtual")]),
    ("Py_BuildValue() tuple", [(E, "how-do-i-use-py-buildvalue-to-create-a-tuple-of-arbitrary-length")]),
    ("PyErr_Print() output", [(E, "how-do-i-catch-the-output-from-pyerr-print-or-anything-that-prints-to-stdout-stderr")]),
    ("functions in C++", [(E, "can-i-create-my-own-functions-in-c-2")]),
    ("os.read() os.popen() pipe", [(L, "i-can-t-seem-to-use-os-read-on-a-pipe-created-with-os-popen-why")]),
    ("sys.stdout.close()", [(L, "why-doesn-t-closing-sys-stdout-stdin-stderr-really-close-it")]),
    ("#!/usr/bin/env python", [(L, "how-do-i-make-a-python-script-executable-on-unix")]),
    ("x = [[None] * 3] * 2", [(P, "how-do-i-create-a-multidimensional-list")]),
    ("1.1 + 2.2 != 3.3", [(D, "why-are-floating-point-calculations-so-inaccurate")]),
    ("if (x = f()):", [(D, "why-can-t-i-use-an-assignment-in-an-expression")]),
    ("def f(a, L=[]):", [(P, "why-are-default-values-shared-between-objects")]),
    ("lambda: x in a for loop", [(P, "why-do-lambdas-defined-in-a-loop-with-different-values-all-return-the-same-result")]),
    ("id(x) == id(y)", [(P, "why-does-the-result-of-id-appear-to-be-not-unique")]),
]

PARAPHRASE = [
    ("turn text into an int", [(P, "how-do-i-convert-a-string-to-a-number")]),
    ("speed up slow python code", [(P, "my-program-is-too-slow-how-do-i-speed-it-up")]),
    ("remove duplicate items from a list", [(P, "how-do-you-remove-duplicates-from-a-list")]),
    ("loop over a list backwards", [(P, "how-do-i-iterate-over-a-sequence-in-reverse-order")]),
    ("mutable default argument keeps old values", [(P, "why-are-default-values-shared-between-objects")]),
    ("closures in a loop all give the last value", [(P, "why-do-lambdas-defined-in-a-loop-with-different-values-all-return-the-same-result")]),
    ("make an exe out of my script", [(W, "how-do-i-make-an-executable-from-a-python-script"),
                                      (P, "how-can-i-create-a-stand-alone-binary-from-a-python-script")]),
    ("remove a file", [(L, "how-do-i-delete-a-file-and-other-file-questions")]),
    ("send an email from python", [(L, "how-do-i-send-mail-from-a-python-script")]),
    ("random integer", [(L, "how-do-i-generate-random-numbers-in-python")]),
    ("remove the GIL", [(L, "can-t-we-get-rid-of-the-global-interpreter-lock")]),
    ("my threads never start", [(L, "none-of-my-threads-seem-to-run-why")]),
    ("duplicate a file", [(L, "how-do-i-copy-a-file")]),
    ("why is 0.1 plus 0.2 not exactly 0.3", [(D, "why-are-floating-point-calculations-so-inaccurate"),
                                              (D, "why-am-i-getting-strange-results-with-simple-arithmetic-operations")]),
    ("no switch statement", [(D, "why-isn-t-there-a-switch-or-case-statement-in-python")]),
    ("why must I write self", [(D, "why-must-self-be-used-explicitly-in-method-definitions-and-calls"),
                               (P, "what-is-self")]),
    ("why can't I change a character in a string", [(D, "why-are-python-strings-immutable"),
                                                    (P, "how-do-i-modify-a-string-in-place")]),
    ("why can't lists be dictionary keys", [(D, "why-must-dictionary-keys-be-immutable")]),
    ("cross platform GUI library", [(U, "what-platform-independent-gui-toolkits-exist-for-python")]),
    ("bundle a tkinter app", [(U, "how-do-i-freeze-tkinter-applications")]),
    ("tkinter ignores my key presses", [(U, "i-can-t-get-key-bindings-to-work-in-tkinter-why")]),
    ("can I uninstall python from my computer", [(I, "can-i-delete-python")]),
    ("circular imports", [(P, "how-can-i-have-modules-that-mutually-import-each-other")]),
    ("reload a module after editing it", [(P, "when-i-edit-an-imported-module-and-reimport-it-the-changes-don-t-show-up-why-does-this-happen")]),
    ("staticmethod and class variables", [(P, "how-do-i-create-static-class-data-and-static-class-methods")]),
    ("several constructors for one class", [(P, "how-can-i-overload-constructors-or-methods-in-python")]),
    ("isinstance with a subclass", [(P, "how-do-i-check-if-an-object-is-an-instance-of-a-given-class-or-of-a-subclass-of-it")]),
    ("call the parent class method with super", [(P, "how-do-i-call-a-method-defined-in-a-base-class-from-a-derived-class-that-overrides-it")]),
    ("sort a list using the order of another list", [(P, "how-can-i-sort-one-list-by-values-from-another-list")]),
    ("two dimensional list", [(P, "how-do-i-create-a-multidimensional-list")]),
    ("join many strings quickly", [(P, "what-is-the-most-efficient-way-to-concatenate-many-strings-together")]),
    ("strip the newline at the end of a line", [(P, "is-there-an-equivalent-to-perl-s-chomp-for-removing-trailing-newlines-from-strings")]),
    ("call a function whose name is in a variable", [(P, "how-do-i-use-strings-to-call-functions-methods")]),
    ("pass kwargs through to another function", [(P, "how-can-i-pass-optional-or-keyword-parameters-from-one-function-to-another")]),
    ("changing one list changed the other one too", [(P, "why-did-changing-list-y-also-change-list-x")]),
    ("return several values from a function", [(P, "how-do-i-write-a-function-with-output-parameters-call-by-reference")]),
    ("list all attributes of an object", [(P, "how-can-i-find-the-methods-or-attributes-of-an-object")]),
    ("get the variable name of an object", [(P, "how-can-my-code-discover-the-name-of-an-object")]),
    ("local variable referenced before assignment", [(P, "why-am-i-getting-an-unboundlocalerror-when-the-variable-has-a-value")]),
    ("global variable shared by several modules", [(P, "how-do-i-share-global-variables-across-modules")]),
    ("step through code with breakpoints", [(P, "is-there-a-source-code-level-debugger-with-breakpoints-single-stepping-etc")]),
    ("lint my code", [(P, "is-there-a-tool-to-help-find-bugs-or-perform-static-analysis")]),
    ("pep 8 style guide", [(P, "are-there-coding-standards-or-a-style-guide-for-python-programs")]),
    ("report a bug in python", [(G, "how-do-i-submit-bug-reports-and-patches-for-python")]),
    ("what do the version numbers mean", [(G, "how-does-the-python-version-numbering-scheme-work")]),
    ("where does the name python come from", [(G, "why-is-it-called-python")]),
    ("read from a serial port", [(L, "how-do-i-access-the-serial-rs232-port")]),
    ("read one key without waiting for enter", [(L, "how-do-i-get-a-single-keypress-at-a-time"),
                                                (W, "how-do-i-check-for-a-keypress-without-blocking")]),
    ("run a python file on windows", [(W, "how-do-i-run-a-python-program-under-windows")]),
    ("editor puts tabs in my source", [(W, "how-do-i-keep-editors-from-inserting-tabs-into-my-python-source")]),
    ("socket connect without blocking", [(L, "how-do-i-avoid-blocking-in-the-connect-method-of-a-socket")]),
    ("submit a web form with POST", [(L, "how-can-i-mimic-cgi-form-submission-method-post")]),
    ("connect to a database", [(L, "are-there-any-interfaces-to-database-packages-in-python")]),
    ("save objects to disk and load them later", [(L, "how-do-you-implement-persistent-objects-in-python")]),
    ("unit tests for my program", [(L, "how-do-i-test-a-python-program-or-component")]),
    ("generate docs from docstrings", [(L, "how-do-i-create-documentation-from-doc-strings")]),
    ("is list append atomic across threads", [(L, "what-kinds-of-global-value-mutation-are-thread-safe")]),
    ("queue of worker threads", [(L, "how-do-i-parcel-out-work-among-a-bunch-of-worker-threads")]),
    ("why is memory not released when python exits", [(D, "why-isn-t-all-memory-freed-when-cpython-exits")]),
    ("reference counting or garbage collector", [(D, "how-does-python-manage-memory"),
                                                 (D, "why-doesn-t-cpython-use-a-more-traditional-garbage-collection-scheme")]),
    ("are exceptions slow", [(D, "how-fast-are-exceptions")]),
    ("compile python into C", [(D, "can-python-be-compiled-to-machine-code-c-or-some-other-language")]),
    ("why have both tuples and lists", [(D, "why-are-there-separate-tuple-and-list-data-types")]),
    ("trailing comma in a list", [(D, "why-does-python-allow-commas-at-the-end-of-lists-and-tuples")]),
    ("why is the colon needed after if", [(D, "why-are-colons-required-for-the-if-while-def-class-statements")]),
    ("why does python use whitespace for blocks", [(D, "why-does-python-use-indentation-for-grouping-of-statements")]),
    ("is python good for someone who never coded", [(G, "is-python-a-good-language-for-beginning-programmers"),
                                                     (G, "i-ve-never-programmed-before-is-there-a-python-tutorial")]),
    ("why is python on my pc", [(I, "why-is-python-installed-on-my-machine")]),
    ("python starts slowly on windows", [(W, "why-does-python-sometimes-take-so-long-to-start")]),
]

OFFTOPIC = [
    "do you sell bicycles", "what is the weather in paris tomorrow", "how do I bake sourdough bread",
    "best pizza near me", "reset my router password", "what is the capital of australia", "who won the world cup",
    "how do I learn to play guitar", "can I pay with bitcoin", "what is your refund policy",
    "cancel my subscription", "where is my parcel", "recipe for chocolate cake", "how tall is mount everest",
    "do you ship to canada", "book a table for two", "fix a flat bicycle tire", "what time does the store open",
    "how do I center a div in css", "what is a javascript promise", "change the oil in my car",
    "is the coffee machine fixed", "what is the stock price of apple", "how do I install microsoft office",
]


def _ids(pairs):
    return [f"faq/{page}#{anchor}" for page, anchor in pairs]


def _split(queries):
    """The halves, fixed once: within each kind, in the order of a hash of the text, alternately tuning and
    test (pairs of the order kind by pair, so both of a pair are in the same half)."""
    kinds = {}
    for q in queries:
        kinds.setdefault(q["kind"], {}).setdefault(q.get("pair", q["query"]), []).append(q)
    for units in kinds.values():
        ordered = sorted(units, key=lambda unit: hashlib.sha256(str(unit).encode()).hexdigest())
        for n, unit in enumerate(ordered):
            for q in units[unit]:
                q["half"] = "tuning" if n % 2 == 0 else "test"


STOP_PREFIXES = ("so ", "and ", "now, ", "then ")


def near(title, n):
    """The question with case, punctuation or stop words changed (its terms stay the same)."""
    bare = title.rstrip("?.! ")
    variants = (bare.lower(), " ".join(w for w in bare.split() if w.lower() not in ("a", "an", "the")),
                title.upper().rstrip("?") + "??", STOP_PREFIXES[n // 4 % 4] + bare.lower() + ", then?")
    return variants[n % 4]


def build():
    corpus = faq_corpus.rows()
    by_title = {}
    for row in corpus:
        by_title.setdefault(row["title"], []).append(row["external_id"])
    out = []
    for n, (title, ids) in enumerate(by_title.items()):
        out.append({"query": title, "kind": "exact", "expected": ids})
        out.append({"query": near(title, n), "kind": "near", "expected": ids})
    for number, pair in enumerate(ORDER):
        out += [{"query": q, "kind": "order", "expected": _ids(e), "pair": number} for q, e in pair]
    out += [{"query": q, "kind": "symbol", "expected": _ids(e)} for q, e in SYMBOL]
    out += [{"query": q, "kind": "paraphrase", "expected": _ids(e)} for q, e in PARAPHRASE]
    out += [{"query": q, "kind": "offtopic", "expected": []} for q in OFFTOPIC]
    _split(out)
    check_expected(out, {row["external_id"] for row in corpus})
    return out


def check_expected(queries, known):
    """Every expected card is in the corpus (`known`: its external ids)."""
    for q in queries:
        missing = set(q["expected"]) - known
        if missing:
            raise SystemExit(f"{q['query']!r} expects questions not in the corpus: {sorted(missing)}")


def load(half=None, path=QUERIES):
    queries = json.loads(Path(path).read_text(encoding="utf-8"))["queries"]
    return [q for q in queries if half in (None, q["half"])]


def write(queries, path, corpus, about):
    """The query file the benches read, and a count per kind and half."""
    path.write_text(json.dumps({"corpus": corpus, "about": about, "queries": queries}, indent=1,
                               ensure_ascii=False) + "\n", encoding="utf-8")
    counts = {}
    for q in queries:
        counts[(q["kind"], q["half"])] = counts.get((q["kind"], q["half"]), 0) + 1
    print(f"{len(queries)} queries written to {path}: "
          + ", ".join(f"{k}/{h} {n}" for (k, h), n in sorted(counts.items())))


def main():
    write(build(), QUERIES, "bench/data/python-faq.jsonl", __doc__.split("\n\n")[1])


if __name__ == "__main__":
    main()
