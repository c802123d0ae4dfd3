#!/usr/bin/env python3
"""The physical ceiling of influxd for TeleSuivi's own points (BENCHMARKS.md, "End to end").

Reads back the points a bench run stored (measurement `observation` and its `observation_id` index points, exactly
the fields and tags the store wrote), rebuilds them as line protocol, and posts them again to fresh databases of the
same influxd, with no TeleSuivi in the way: as the store sends them (two points per Observation, 125 Observations
per request), then without the `fhir` field, each with 1, 2 and 4 requests in flight. Prints Observations/s for each.

usage: infra/bench/influx-ceiling.py --url http://127.0.0.1:8086 --db bench1 [--limit 40000] [--concurrency 1,2,4]
"""
import argparse
import http.client
import json
import threading
import time
import urllib.parse

TAGS = {"observation": ("code", "device", "patient"), "observation_id": ("bucket",)}


def query(url, db, q):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    c.request("GET", "/query?" + urllib.parse.urlencode({"db": db, "q": q, "epoch": "ns"}))
    r = c.getresponse()
    body = json.loads(r.read())
    if r.status != 200 or "error" in body.get("results", [{}])[0]:
        raise SystemExit(f"query failed: {r.status} {body}")
    return body["results"][0].get("series", [])


def escape_tag(v):
    return v.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def field(k, v):
    k = escape_tag(k)
    if isinstance(v, str):
        return f'{k}="' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, bool):
        return f"{k}={'true' if v else 'false'}"
    if isinstance(v, int) and k == "stamp":
        return f"{k}={v}i"
    return f"{k}={float(v)!r}"


def lines(series, measurement, drop=()):
    out = []
    for s in series:
        cols = s["columns"]
        for row in s["values"]:
            rec = dict(zip(cols, row))
            tags = "".join(f",{t}={escape_tag(rec[t])}" for t in sorted(TAGS[measurement]) if rec.get(t))
            fields = ",".join(field(k, v) for k, v in sorted(rec.items())
                              if k != "time" and k not in TAGS[measurement] and v is not None and k not in drop)
            out.append((rec["time"], f"{measurement}{tags} {fields} {rec['time']}\n"))
    return out


def post_all(url, db, bodies, concurrency):
    u = urllib.parse.urlsplit(url)
    path = "/write?" + urllib.parse.urlencode({"db": db, "precision": "ns"})
    queue = list(reversed(bodies))
    lock = threading.Lock()
    errors = []

    def worker():
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            c.request("POST", path, body=body, headers={"Content-Type": "text/plain; charset=utf-8"})
            r = c.getresponse()
            r.read()
            if r.status != 204:
                errors.append(r.status)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    if errors:
        raise SystemExit(f"writes failed: {errors[:5]}")
    return elapsed


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="http://127.0.0.1:8086")
    p.add_argument("--db", required=True, help="a database a bench run wrote")
    p.add_argument("--limit", type=int, default=40000, help="Observations to post")
    p.add_argument("--per-request", type=int, default=125, help="Observations per request (the store's part size)")
    p.add_argument("--concurrency", default="1,2,4")
    a = p.parse_args()

    observations = lines(query(a.url, a.db, f'SELECT * FROM "observation" LIMIT {a.limit}'), "observation")
    bare = lines(query(a.url, a.db, f'SELECT * FROM "observation" LIMIT {a.limit}'), "observation", drop=("fhir",))
    index = dict(lines(query(a.url, a.db, 'SELECT * FROM "observation_id"'), "observation_id"))
    n = len(observations)
    print(f"{n} Observations read back from {a.db}; {sum(len(l) for _, l in observations) / n:.0f} bytes per point with fhir, "
          f"{sum(len(l) for _, l in bare) / n:.0f} without")

    def bodies(points):
        out = []
        for i in range(0, n, a.per_request):
            out.append("".join(l + index.get(t, "") for t, l in points[i:i + a.per_request]).encode())
        return out

    variants = {"as stored (with fhir)": bodies(observations), "without fhir": bodies(bare)}
    stamp = int(time.time())
    for name, requests in variants.items():
        for c in [int(x) for x in a.concurrency.split(",")]:
            db = f"ceiling_{stamp}_{'fhir' if 'with' in name else 'bare'}_{c}"
            u = urllib.parse.urlsplit(a.url)
            conn = http.client.HTTPConnection(u.hostname, u.port)
            conn.request("POST", "/query?" + urllib.parse.urlencode({"q": f"CREATE DATABASE {db}"}))
            conn.getresponse().read()
            elapsed = post_all(a.url, db, requests, c)
            conn.request("POST", "/query?" + urllib.parse.urlencode({"q": f"DROP DATABASE {db}"}))
            conn.getresponse().read()
            print(f"{name:24} {c} in flight: {n / elapsed:8.0f} Observations/s ({elapsed:.2f} s for {n}, {len(requests)} requests)")


if __name__ == "__main__":
    main()
