#!/usr/bin/env python3
"""Print `MD5  PATH` lines (md5sum -c format) of every file a correct install of a V2 product's
newest windows build holds for one language, read from the mock's own builds listing and
(zlib) manifests. Used by bench/peer.sh to check lgogdownloader's output.

Usage: peer_expected.py BASE_URL PRODUCT_ID LANG      (BASE_URL = http://127.0.0.1:PORT)
"""
import json
import sys
import urllib.request
import zlib


def get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read()


def get_json(url):
    body = get(url)
    try:
        return json.loads(body)
    except ValueError:
        return json.loads(zlib.decompress(body))


def lang_ok(langs, want):
    p = want.split("-")[0].lower()
    return any(l == "*" or l.lower() == want.lower() or l.split("-")[0].lower() == p for l in langs)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    base, pid, lang = sys.argv[1], sys.argv[2], sys.argv[3]
    builds = get_json(f"{base}/products/{pid}/os/windows/builds?generation=2")
    link = builds["items"][0]["link"]
    h = link.rsplit("/", 1)[1]
    build = get_json(f"{base}/content-system/v2/meta/{h[0:2]}/{h[2:4]}/{h}")
    for d in build["depots"]:
        if not lang_ok(d["languages"], lang):
            continue
        m = d["manifest"]
        depot = get_json(f"{base}/content-system/v2/meta/{m[0:2]}/{m[2:4]}/{m}")
        for it in depot["depot"]["items"]:
            if it.get("type") == "DepotFile" and "md5" in it:
                print(f"{it['md5']}  {it['path'].replace(chr(92), '/')}")


if __name__ == "__main__":
    main()
