#!/usr/bin/env python3
"""test/fault/consumer.py: consumers of the change events (enrollment.events
= wal) for test/fault/stream.sh, and the checker of what they received.

    consumer.py stream DSN SLOT FILE   psycopg2's logical replication
                                       protocol, pgoutput with messages
    consumer.py sql DSN SLOT FILE      enrollment.read_events() and
                                       confirm_events(), as a role with no
                                       other right
    consumer.py check LEDGER STREAM SQL RECVLOGICAL
                                       compare three outputs with the ledger

Both consumers run until they are killed, reconnect after any error, and
resume where they stopped without a gap or a duplicate: they append each
committed transaction to FILE (its events, then a line with its end
position), fsync, and only then confirm the position to the server; on a
start they drop a transaction cut short at the end of FILE and resume from
the last position in it.  The server may forget a confirmation it had not
yet saved when it crashes, so the position sent on reconnecting is the
consumer's own: start_replication(start_lsn=...) for the protocol,
confirm_events() before the first read_events() for SQL.

FILE lines, tab-separated:
    E  position  xid  payload      an event of the transaction
    T  position  xid  events       the transaction is complete
"""
import json
import os
import struct
import sys
import time
from decimal import Decimal

PUBLICATION = "enrollment_events"
PREFIX = b"enrollment"


def lsn_int(text):
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def lsn_text(value):
    return "%X/%X" % (value >> 32, value & 0xFFFFFFFF)


class Output:
    """FILE, holding whole transactions only."""

    def __init__(self, path):
        self.path = path
        self.position = None
        keep = 0
        if os.path.exists(path):
            with open(path, "rb") as f:
                data = f.read()
            offset = 0
            for line in data.splitlines(keepends=True):
                offset += len(line)
                if line.startswith(b"T\t") and line.endswith(b"\n"):
                    keep = offset
                    self.position = line.split(b"\t")[1].decode()
        self.file = open(path, "ab")
        self.file.truncate(keep)

    def commit(self, position, xid, events):
        lines = "".join("E\t%s\t%s\t%s\n" % (position, xid, e) for e in events)
        lines += "T\t%s\t%s\t%d\n" % (position, xid, len(events))
        self.file.write(lines.encode())
        self.file.flush()
        os.fsync(self.file.fileno())
        self.position = position


def stream(dsn, slot, path):
    import psycopg2
    import psycopg2.extras

    out = Output(path)
    while True:
        try:
            conn = psycopg2.connect(
                dsn, connection_factory=psycopg2.extras.LogicalReplicationConnection)
            cur = conn.cursor()
            cur.start_replication(
                slot_name=slot, decode=False, status_interval=1,
                start_lsn=out.position or 0,
                options={"proto_version": "1", "publication_names": PUBLICATION,
                         "messages": "true"})
            transaction = {"xid": None, "events": []}

            def receive(msg):
                data = msg.payload
                kind = data[:1]
                if kind == b"B":
                    transaction["xid"] = struct.unpack_from(">QqI", data, 1)[2]
                    transaction["events"] = []
                elif kind == b"M":
                    flags = data[1]
                    end = data.index(b"\0", 10)
                    if flags == 1 and data[10:end] == PREFIX:
                        length = struct.unpack_from(">I", data, end + 1)[0]
                        body = data[end + 5:end + 5 + length]
                        transaction["events"].append(body.decode())
                elif kind == b"C":
                    end_lsn = struct.unpack_from(">QQ", data, 2)[1]
                    if transaction["events"]:
                        out.commit(lsn_text(end_lsn), transaction["xid"],
                                   transaction["events"])
                    msg.cursor.send_feedback(flush_lsn=end_lsn)

            cur.consume_stream(receive)
        except psycopg2.Error as e:
            print("stream consumer: %s" % str(e).strip(), file=sys.stderr)
            time.sleep(0.5)


def sql(dsn, slot, path):
    import psycopg2

    out = Output(path)
    while True:
        try:
            conn = psycopg2.connect(dsn)
            conn.autocommit = True
            cur = conn.cursor()
            if out.position:
                cur.execute("SELECT enrollment.confirm_events(%s, %s)", (slot, out.position))
            while True:
                cur.execute("SELECT commit_lsn::text, xid::text, event::text"
                            "  FROM enrollment.read_events(%s, 1000)", (slot,))
                rows = cur.fetchall()
                if not rows:
                    time.sleep(0.2)
                    continue
                i = 0
                while i < len(rows):
                    j = i
                    while j < len(rows) and rows[j][0] == rows[i][0]:
                        j += 1
                    out.commit(rows[i][0], rows[i][1], [r[2] for r in rows[i:j]])
                    i = j
                cur.execute("SELECT enrollment.confirm_events(%s, %s)", (slot, out.position))
        except psycopg2.Error as e:
            print("sql consumer: %s" % str(e).strip(), file=sys.stderr)
            time.sleep(0.5)


def read_output(path):
    """The transactions of a consumer's FILE: [(position, xid, [event])]."""
    transactions, events = [], []
    with open(path) as f:
        for line in f:
            kind, position, xid, rest = line.rstrip("\n").split("\t", 3)
            if kind == "E":
                events.append(json.loads(rest, parse_float=Decimal))
            else:
                transactions.append((position, int(xid), events))
                events = []
    return transactions


def read_recvlogical(path):
    """pg_recvlogical's test_decoding output (include-xids): the complete
    transactions, each once, and how many were sent again."""
    transactions, seen, resent = [], {}, 0
    xid, events = None, []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("BEGIN "):
                xid, events = int(line[6:]), []	# an open one was cut short
            elif line.startswith("message: transactional: 1 prefix: enrollment, "):
                body = line[line.index("content:") + 8:]
                events.append(json.loads(body, parse_float=Decimal))
            elif line.startswith("COMMIT ") and xid is not None and int(line[7:]) == xid:
                if xid in seen:
                    resent += 1
                    if seen[xid] != events:
                        raise SystemExit("transaction %d was sent again, differently" % xid)
                elif events:
                    seen[xid] = events
                    transactions.append((None, xid, events))
                xid = None
    return transactions, resent


def check(ledger_path, stream_path, sql_path, recvlogical_path):
    """Print 't' or 'f', a tab and a description, per check."""
    ledger = {}
    with open(ledger_path) as f:
        for line in f:
            (payment_id, xmin, user_id, course_id, kind, amount, paid, due,
             status) = line.rstrip("\n").split("\t")
            ledger[int(payment_id)] = {
                "xid": int(xmin), "user_id": user_id, "course_id": course_id,
                "kind": kind, "amount": Decimal(amount), "amount_paid": Decimal(paid),
                "amount_due": Decimal(due), "status": status}
    recvlogical, resent = read_recvlogical(recvlogical_path)
    outputs = [("the protocol consumer (psycopg2, pgoutput)", read_output(stream_path)),
               ("the SQL consumer (read_events)", read_output(sql_path)),
               ("pg_recvlogical (test_decoding)", recvlogical)]
    orders = []
    for name, transactions in outputs:
        ids = [e["payment_id"] for _, _, events in transactions for e in events]
        print("%s\t%s: %d events in %d transactions, %d ledger rows" % (
            "t" if len(ids) > 0 else "f", name, len(ids), len(transactions), len(ledger)))
        print("%s\t%s: every ledger row once, nothing else (%d missing, %d duplicated, %d not in the ledger)" % (
            "t" if sorted(ids) == sorted(ledger) else "f", name,
            len(set(ledger) - set(ids)), len(ids) - len(set(ids)), len(set(ids) - set(ledger))))
        wrong = sum(1 for _, xid, events in transactions for e in events
                    if e["payment_id"] in ledger and any(
                        (xid if k == "xid" else e[k]) != v
                        for k, v in ledger[e["payment_id"]].items()))
        print("%s\t%s: each event carries its ledger row's values and transaction (%d differ)" % (
            "t" if wrong == 0 else "f", name, wrong))
        last, order_ok = {}, True
        for _, _, events in transactions:
            for e in events:
                key = (e["user_id"], e["course_id"])
                order_ok &= last.get(key, 0) < e["payment_id"]
                last[key] = e["payment_id"]
        if transactions[0][0] is not None:
            positions = [lsn_int(p) for p, _, _ in transactions]
            order_ok &= all(a < b for a, b in zip(positions, positions[1:]))
        print("%s\t%s: in commit order (positions increase; each enrollment's events in ledger order)" % (
            "t" if order_ok else "f", name))
        orders.append([xid for _, xid, _ in transactions])
    print("%s\tthe three consumers received the same transactions in the same order" % (
        "t" if orders[0] == orders[1] == orders[2] else "f"))
    print("#\tpg_recvlogical was sent %d transactions again after a restart (dropped by their xid)" % resent)


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "stream" and len(sys.argv) == 5:
        stream(*sys.argv[2:])
    elif mode == "sql" and len(sys.argv) == 5:
        sql(*sys.argv[2:])
    elif mode == "check" and len(sys.argv) == 6:
        check(*sys.argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
