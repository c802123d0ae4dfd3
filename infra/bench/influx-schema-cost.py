#!/usr/bin/env python3
"""What each part of the store's InfluxDB points costs influxd (BENCHMARKS.md, "End to end", "the CPU budget").

Posts synthetic Observations to fresh databases of one influxd, the line-protocol bodies built before the clock
starts (so the figure is influxd's, not this client's), 1,000 Observations per request, 4 requests in flight, in
five shapes, from the leanest point a reading could be to the points schema 2 writes (SCHEMA.md beside the store):

  lean        observation,code,device,patient  value=<float>
  ints        + shape, style, issued as integers
  strings     + unit and id as strings (an Observation point of schema 2, without its index point)
  ints+index  ints, plus the observation_id index point (bucket tag; id, patient, code, device strings)
  full        strings, plus the index point: what the store writes for a plain reading

10,000 patients and devices, six codes, timestamps 1 ms apart with the store's sub-millisecond offset. Prints
Observations/s for each, and 2 cores / that rate: an upper bound of the CPU influxd spends per Observation (the
client sending the bodies takes a little of the 2 cores). Then drops the databases it made.

usage: infra/bench/influx-schema-cost.py [--url http://127.0.0.1:8086] [--observations 400000]
"""
import argparse
import hashlib
import http.client
import importlib.util
import pathlib
import random
import urllib.parse

# The writer of influx-ceiling.py (requests in flight from a queue of bodies), loaded from beside this file.
_spec = importlib.util.spec_from_file_location("influx_ceiling", pathlib.Path(__file__).with_name("influx-ceiling.py"))
CEILING = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(CEILING)

CODES = ["8867-4", "59408-5", "9279-1", "8310-5", "29463-7", "85354-9"]
SHAPES = ["lean", "ints", "strings", "ints+index", "full"]


def request(url, method, path, body=b""):
    u = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    connection.request(method, path, body)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


def lines(shape, n, rng):
    code, patient, device = f"http://loinc.org|{CODES[n % 6]}", f"Patient/p{n % 10000}", f"Device/d{n % 10000}"
    oid = hashlib.md5(str(n).encode()).hexdigest()
    ts = 1_764_000_000_000_000_000 + n * 1_000_000 + (n * 7919) % 1_000_000
    fields = f"value={60 + rng.random() * 40:.1f}"
    if shape != "lean":
        fields += f",shape=-7115906375337613806i,style=1553i,issued={1768467600000 + n}i"
    if shape in ("strings", "full"):
        fields += f',unit="/min",id="{oid}"'
    out = [f"observation,code={code},device={device},patient={patient} {fields} {ts}"]
    if shape in ("ints+index", "full"):
        out.append(f'observation_id,bucket={oid[:3]} id="{oid}",patient="{patient}",code="{code}",device="{device}" {ts}')
    return out


def measure(url, shape, observations, per_request=1000, in_flight=4):
    database = "schema_cost_" + shape.replace("+", "_")
    request(url, "POST", "/query?" + urllib.parse.urlencode({"q": f"CREATE DATABASE {database}"}))
    rng = random.Random(1)
    bodies = ["\n".join(line for n in range(b, b + per_request) for line in lines(shape, n, rng)).encode()
              for b in range(0, observations, per_request)]
    try:
        seconds = CEILING.post_all(url, database, bodies, in_flight)
    finally:
        request(url, "POST", "/query?" + urllib.parse.urlencode({"q": f"DROP DATABASE {database}"}))
    return observations / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8086")
    parser.add_argument("--observations", type=int, default=400_000)
    args = parser.parse_args()
    print(f"{'points':<12} {'Observations/s':>15}  {'2 cores / rate, µs per Observation':>36}")
    for shape in SHAPES:
        rate = measure(args.url, shape, args.observations)
        print(f"{shape:<12} {rate:>15,.0f}  {2e6 / rate:>36.1f}")


if __name__ == "__main__":
    main()
