"""Set German translations in locale/de/LC_MESSAGES/django.po from a JSON map and clear
their fuzzy flags. Usage: python scripts/po_set.py translations.json
The JSON maps msgid -> msgstr, or msgid -> [singular, plural] for plural entries."""

import json
import re
import sys
from pathlib import Path

PO = Path(__file__).resolve().parents[1] / "locale" / "de" / "LC_MESSAGES" / "django.po"


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def unquote_block(lines: list[str]) -> str:
    return "".join(json.loads(line) for line in lines)


def main(path: str) -> int:
    wanted: dict = json.loads(Path(path).read_text(encoding="utf-8"))
    blocks = PO.read_text(encoding="utf-8").split("\n\n")
    done = set()
    for i, block in enumerate(blocks):
        lines = block.split("\n")
        try:
            start = next(n for n, line in enumerate(lines) if line.startswith("msgid "))
        except StopIteration:
            continue
        end = start + 1
        while end < len(lines) and lines[end].startswith('"'):
            end += 1
        msgid = unquote_block([lines[start][6:], *lines[start + 1 : end]])
        if msgid not in wanted:
            continue
        head = [line for line in lines[:start] if not line.startswith("#|")]
        head = [re.sub(r"#, fuzzy(, )?", "#, ", line) for line in head]
        head = [line for line in head if line.strip() != "#,"]
        body = lines[start:end]
        rest = lines[end:]
        plural = [line for line in rest if line.startswith("msgid_plural")]
        value = wanted[msgid]
        if plural:
            p_start = rest.index(plural[0])
            p_end = p_start + 1
            while p_end < len(rest) and rest[p_end].startswith('"'):
                p_end += 1
            body += rest[p_start:p_end]
            body += [f"msgstr[0] {quote(value[0])}", f"msgstr[1] {quote(value[1])}"]
        else:
            body += [f"msgstr {quote(value)}"]
        blocks[i] = "\n".join(head + body)
        done.add(msgid)
    PO.write_text("\n\n".join(blocks), encoding="utf-8")
    missing = set(wanted) - done
    for m in sorted(missing):
        print("not in .po:", m)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
