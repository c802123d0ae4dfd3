#!/usr/bin/env python3
"""The physical ceiling of influxd for TeleSuivi's own points (BENCHMARKS.md, "End to end").

Reads back the points a bench run stored (measurement `observation` and its `observation_id` index points, exactly
the fields and tags the store wrote), rebuilds them as line protocol, and posts them again to fresh databases of the
same influxd, with no TeleSuivi in the way: as the store sends them (two points per Observation, 125 Observations
per request), then without the `fhir` field, each with 1, 2 and 4 requests in flight. Prints Observations/s for each.

usage: infra/bench/influx-ceiling.py --url http://127.0.0.1:8086 --db bench1 [--limit 40000] [--concurrency 1,2,4]

With --paced OBSERVATIONS_PER_SECOND it measures latency instead of the ceiling: the same points are posted at that
steady rate (open loop: each request is due at a fixed time, as the platform's batches are), in requests of each
--per-request size, at most --concurrency requests in flight, for --seconds; it prints the percentiles of each
request's duration and of its completion after the time it was due (its queueing behind slower ones included): what
influxd alone gives, on this machine at this moment, for the write pattern of the platform at that rate.

usage: infra/bench/influx-ceiling.py --db bench1 --paced 2000 --per-request 6,12,50 --concurrency 4 --seconds 20
"""
import argparse
import http.client
import json
import math
import os
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


def percentiles(values):
    values = sorted(values)
    at = lambda q: values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]
    return f"p50 {at(0.5):7.1f}  p90 {at(0.9):7.1f}  p99 {at(0.99):7.1f}  max {values[-1]:7.1f} ms"


def post_paced(url, db, bodies, per_second, concurrency):
    """Posts bodies[i] at start + i / per_second (requests per second); returns (durations, lateness) in ms."""
    u = urllib.parse.urlsplit(url)
    path = "/write?" + urllib.parse.urlencode({"db": db, "precision": "ns"})
    lock = threading.Lock()
    next_index = [0]
    durations, completions, errors = [], [], []
    start = time.monotonic() + 0.2

    def worker():
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
        while True:
            with lock:
                i = next_index[0]
                if i >= len(bodies):
                    return
                next_index[0] += 1
            due = start + i / per_second
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            sent = time.monotonic()
            c.request("POST", path, body=bodies[i], headers={"Content-Type": "text/plain; charset=utf-8"})
            r = c.getresponse()
            r.read()
            done = time.monotonic()
            if r.status != 204:
                errors.append(r.status)
            with lock:
                durations.append(1000 * (done - sent))
                completions.append(1000 * (done - due))

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"writes failed: {errors[:5]}")
    return durations, completions


def paced(a, observations, index):
    stamp = int(time.time())
    u = urllib.parse.urlsplit(a.url)
    for size in [int(x) for x in a.per_request.split(",")]:
        requests_per_second = a.paced / size
        count = max(1, int(requests_per_second * a.seconds))
        # Cycles through the points read back; each round goes to a database of its own, so that none overwrites another.
        bodies = []
        for r in range(count):
            first = (r * size) % max(1, len(observations) - size)
            bodies.append("".join(l + index.get(t, "") for t, l in observations[first:first + size]).encode())
        db = f"paced_{stamp}_{size}"
        conn = http.client.HTTPConnection(u.hostname, u.port)
        conn.request("POST", "/query?" + urllib.parse.urlencode({"q": f"CREATE DATABASE {db}"}))
        conn.getresponse().read()
        load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else ["?"]
        durations, late = post_paced(a.url, db, bodies, requests_per_second, a.concurrency_paced)
        conn.request("POST", "/query?" + urllib.parse.urlencode({"q": f"DROP DATABASE {db}"}))
        conn.getresponse().read()
        print(f"{a.paced} Observations/s in requests of {size} ({requests_per_second:.0f}/s, {len(bodies)} requests, "
              f"at most {a.concurrency_paced} in flight, load {' '.join(load)}):")
        print(f"  request duration        {percentiles(durations)}")
        print(f"  completion after due    {percentiles(late)}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="http://127.0.0.1:8086")
    p.add_argument("--db", required=True, help="a database a bench run wrote")
    p.add_argument("--limit", type=int, default=40000, help="Observations to post")
    p.add_argument("--per-request", default="125", help="Observations per request (the store's part size); latency mode: a list, e.g. 6,12,50")
    p.add_argument("--concurrency", default="1,2,4")
    p.add_argument("--paced", type=int, help="latency mode: Observations per second, posted at a steady rate")
    p.add_argument("--seconds", type=float, default=20, help="latency mode: how long each size is posted")
    a = p.parse_args()

    observations = lines(query(a.url, a.db, f'SELECT * FROM "observation" LIMIT {a.limit}'), "observation")
    bare = lines(query(a.url, a.db, f'SELECT * FROM "observation" LIMIT {a.limit}'), "observation", drop=("fhir",))
    index = dict(lines(query(a.url, a.db, 'SELECT * FROM "observation_id"'), "observation_id"))
    n = len(observations)
    if a.paced:
        a.per_request = str(a.per_request)
        a.concurrency_paced = max(int(x) for x in a.concurrency.split(","))
        paced(a, observations, index)
        return
    print(f"{n} Observations read back from {a.db}; {sum(len(l) for _, l in observations) / n:.0f} bytes per point with fhir, "
          f"{sum(len(l) for _, l in bare) / n:.0f} without")

    def bodies(points):
        out = []
        size = int(a.per_request)
        for i in range(0, n, size):
            out.append("".join(l + index.get(t, "") for t, l in points[i:i + size]).encode())
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
