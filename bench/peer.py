#!/usr/bin/env python3
"""Kefu and Request Tracker 5 side by side: the same scenarios, alternating
requests, one client each, both signed in once (session cookies).

Started by bench/peer-rt5.sh, which installs and serves both. Standard library
only. Prints per system: median / p95 latency, requests per second from one
client, the server's CPU time per request (from /proc), and the ratios.
"""

import argparse
import os
import threading
import http.client
import json
import random
import sqlite3
import statistics
import time
import urllib.parse

# Subjects as a gas utility's hotline writes them: a thing and what is wrong.
THINGS = ["燃气表", "热水器", "壁挂炉", "燃气灶", "室内管道", "总阀门", "报警器", "IC卡", "预付费表", "波纹管"]
PROBLEMS = ["漏气", "无法点火", "读数异常", "充值失败", "有异味", "噪音大", "需要更换", "申请安装", "申请移位", "年度检测", "显示故障代码", "自动关阀"]
WORDS = ["漏气", "热水器", "读数异常", "壁挂炉", "充值失败", "报警器"]
BODY = "客户来电反映{s}，地址为历下区泉景小区3号楼2单元502室，请维修部尽快安排人员上门检查处理并回复客户。"


class Site:
    """One HTTP server, a keep-alive connection and the session cookie."""

    def __init__(self, base, pid):
        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.pid = u.hostname, u.port, pid
        self.conn = None
        self.cookie = ""

    def request(self, method, path, body=None, headers=None, form=False):
        hdrs = {"Cookie": self.cookie} if self.cookie else {}
        hdrs.update(headers or {})
        data = None
        if body is not None:
            if form:
                data = urllib.parse.urlencode(body).encode()
                hdrs["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                data = json.dumps(body, ensure_ascii=False).encode()
                hdrs["Content-Type"] = "application/json"
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                res = self.conn.getresponse()
                payload = res.read()
                if res.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return res, payload
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise

    def cpu_seconds(self):
        """CPU time of the server and its worker processes (RT preforks)."""
        total = 0
        for pid in [self.pid] + children(self.pid):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime + stime, in ticks
        return total / os.sysconf("SC_CLK_TCK")

    def clone(self):
        other = Site(f"http://{self.host}:{self.port}", self.pid)
        other.cookie = self.cookie
        return other


def children(pid):
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        return out
    return out + [g for c in out for g in children(c)]


def cookie_of(res):
    return "; ".join(
        v.split(";", 1)[0] for k, v in res.getheaders() if k.lower() == "set-cookie"
    )


def expect(res, payload, *codes):
    if res.status not in codes:
        raise SystemExit(f"unexpected answer {res.status}: {payload[:300]!r}")
    return payload


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rt", required=True)
    ap.add_argument("--rt-pid", type=int, required=True)
    ap.add_argument("--rt-db", required=True)
    ap.add_argument("--rt-user", default="root")
    ap.add_argument("--rt-password", default="password")
    ap.add_argument("--kefu", required=True)
    ap.add_argument("--kefu-pid", type=int, required=True)
    ap.add_argument("--kefu-user", default="manager")
    ap.add_argument("--kefu-password", default="kefu-demo-2026")
    ap.add_argument("--rt-tickets", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--clients", type=int, default=8)
    a = ap.parse_args()
    rng = random.Random(2026)

    rt, kefu = Site(a.rt, a.rt_pid), Site(a.kefu, a.kefu_pid)
    # RT: its login form, once; then REST2 with the session cookie.
    res, payload = rt.request("POST", "/NoAuth/Login.html", {"user": a.rt_user, "pass": a.rt_password}, form=True)
    rt.cookie = cookie_of(res)
    if not rt.cookie:
        raise SystemExit(f"RT login failed: {res.status}")
    res, payload = rt.request("POST", "/REST/2.0/queue", {"Name": "Hotline", "Description": "服务热线"})
    expect(res, payload, 201, 400)
    # Kefu: its sign-in, once; the REPAIR department and customers from the API.
    res, payload = kefu.request("POST", "/api/v1/auth/login", {"staff_no": a.kefu_user, "password": a.kefu_password})
    expect(res, payload, 200)
    kefu.cookie = cookie_of(res)
    deps = json.loads(expect(*kefu.request("GET", "/api/v1/departments"), 200))
    repair = next(d["id"] for d in deps if d["code"] == "REPAIR")
    page = json.loads(expect(*kefu.request("GET", "/api/v1/customers?limit=200"), 200))
    customers = [c["id"] for c in page["items"]]
    orders = json.loads(expect(*kefu.request("GET", "/api/v1/work-orders?limit=1"), 200))
    more = "" if orders.get("total_exact", True) else " or more"
    print(f"Kefu: {orders.get('total', '?')}{more} work orders in its database; RT: a fresh database")

    def subject():
        return rng.choice(THINGS) + rng.choice(PROBLEMS)

    def rt_create(site=rt):
        s = subject()
        body = {"Queue": "Hotline", "Subject": s, "Content": BODY.format(s=s), "ContentType": "text/plain"}
        expect(*site.request("POST", "/REST/2.0/ticket", body), 201)

    def kefu_create(site=kefu):
        s = subject()
        body = {"kind": "repair", "subject": s, "description": BODY.format(s=s), "customer_id": rng.choice(customers)}
        expect(*site.request("POST", "/api/v1/work-orders", body), 201)

    def concurrent(name, steps, seconds):
        """Each system in turn for `seconds` with --clients clients: throughput."""
        print(f"\n{name} ({a.clients} clients each, {seconds} s each, in turn)")
        rates = {}
        for label, site, step in steps:
            stop = time.perf_counter() + seconds
            counts = [0] * a.clients

            def client(k):
                conn = site.clone()
                while time.perf_counter() < stop:
                    step(conn)
                    counts[k] += 1

            c0, t0 = site.cpu_seconds(), time.perf_counter()
            threads = [threading.Thread(target=client, args=(k,)) for k in range(a.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall, done = time.perf_counter() - t0, sum(counts)
            rates[label] = done / wall
            print(f"  {label:<5} {done:6d} in {wall:5.1f} s: {done / wall:8.1f} per second  "
                  f"server CPU {(site.cpu_seconds() - c0) * 1000 / max(done, 1):7.2f} ms each")
        print(f"  ratio  Kefu creates {rates['Kefu'] / rates['RT']:.0f}x as many per second")

    def rt_search(word):
        q = urllib.parse.quote(f"Subject LIKE '{word}'")
        expect(*rt.request("GET", f"/REST/2.0/tickets?query={q}&per_page=20&orderby=id&order=DESC"), 200)

    def kefu_search(word):
        expect(*kefu.request("GET", f"/api/v1/search?q={urllib.parse.quote(word)}&kind=work_order&limit=20"), 200)

    def rt_queue():
        q = urllib.parse.quote("Queue = 'Hotline' AND Status = 'new'")
        expect(*rt.request("GET", f"/REST/2.0/tickets?query={q}&per_page=50&orderby=Created&order=DESC"), 200)

    def kefu_queue():
        expect(*kefu.request("GET", f"/api/v1/departments/{repair}/inbox?limit=50"), 200)

    def alternate(name, rt_step, kefu_step, n, arg=None):
        times = {"RT": [], "Kefu": []}
        cpu = {"RT": 0.0, "Kefu": 0.0}
        for i in range(n):
            pair = [("RT", rt, rt_step), ("Kefu", kefu, kefu_step)]
            if i % 2:
                pair.reverse()  # neither always goes first
            for label, site, step in pair:
                c0, t0 = site.cpu_seconds(), time.perf_counter()
                step(arg(i)) if arg else step()
                times[label].append((time.perf_counter() - t0) * 1000)
                cpu[label] += site.cpu_seconds() - c0
        print(f"\n{name} ({n} each, alternating, one client)")
        summary = {}
        for label in ("RT", "Kefu"):
            xs = times[label]
            mean = statistics.fmean(xs)
            summary[label] = (statistics.median(xs), mean)
            print(f"  {label:<5} p50 {statistics.median(xs):8.2f} ms  p95 {percentile(xs, 95):8.2f} ms  "
                  f"{1000 / mean:8.1f} req/s  server CPU {cpu[label] * 1000 / n:7.2f} ms/request")
        print(f"  ratio  Kefu is {summary['RT'][0] / summary['Kefu'][0]:.0f}x faster at the median, "
              f"{summary['RT'][1] / summary['Kefu'][1]:.0f}x in requests per second")

    # Warm both up (first requests load code and caches).
    for _ in range(5):
        rt_create()
        kefu_create()
    alternate("ticket / work-order create (Chinese subject and body)", rt_create, kefu_create, a.rounds)
    concurrent("ticket / work-order create, concurrent clients",
               [("RT", rt, rt_create), ("Kefu", kefu, kefu_create)], 20)

    # RT's table grows to --rt-tickets: the tickets created above cloned at the SQL
    # level with other subjects (through its API that would take an hour here).
    db = sqlite3.connect(a.rt_db, timeout=60)
    have = db.execute("SELECT COUNT(*) FROM Tickets").fetchone()[0]
    template = db.execute("SELECT MAX(id) FROM Tickets").fetchone()[0]
    cols = [r[1] for r in db.execute("PRAGMA table_info(Tickets)") if r[1] not in ("id", "Subject", "EffectiveId")]
    col_list = ", ".join(cols)
    rows = [(subject(),) for _ in range(max(0, a.rt_tickets - have))]
    db.executemany(
        f"INSERT INTO Tickets (Subject, EffectiveId, {col_list}) SELECT ?, 0, {col_list} FROM Tickets WHERE id = {template}",
        rows,
    )
    db.execute("UPDATE Tickets SET EffectiveId = id WHERE EffectiveId = 0")
    db.commit()
    n_rt = db.execute("SELECT COUNT(*) FROM Tickets").fetchone()[0]
    db.close()
    print(f"\nRT now holds {n_rt} tickets")

    alternate("search by a Chinese word (RT: Subject LIKE; Kefu: full-text over subject and text)",
              rt_search, kefu_search, a.rounds, arg=lambda i: WORDS[i % len(WORDS)])
    alternate("queue / department inbox, 50 newest open", rt_queue, kefu_queue, a.rounds)


if __name__ == "__main__":
    main()
