#!/usr/bin/env python3
"""Makes kubeconform-ready Kubernetes JSON schemas from the ones the `kubernetes-validate` PyPI
package ships, so the manifests are validated offline (kubeconform's default source is a web
site CI cannot reach).

kubernetes-validate keeps one `_definitions.json` per Kubernetes version and refers to it as
`/api/_definitions.json#/$defs/...`; kubeconform wants one self-contained file per kind. For each
kind this writes `<out>/v<version>-standalone-strict/<kind>[-<group>]-<version>.json` with the
definitions it reaches copied in under `$defs`, so kubeconform finds it with

  -schema-location '<out>/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json'

Usage: k8s_schemas.py SOURCE_DIR OUT_DIR   (SOURCE_DIR: kubernetes_validate/kubernetes-json-schema/v1.33.0-local-strict)
"""
import json
import os
import re
import sys

EXTERNAL = "/api/_definitions.json#/$defs/"
LOCAL = "#/$defs/"


def refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def rewrite(node):
    if isinstance(node, dict):
        return {k: (v.replace(EXTERNAL, LOCAL) if k == "$ref" and isinstance(v, str) else rewrite(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [rewrite(v) for v in node]
    return node


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    source, out_root = argv[1], argv[2]
    match = re.search(r"(v\d+\.\d+\.\d+)-local-strict/?$", source)
    if not match:
        sys.exit("k8s_schemas.py: SOURCE_DIR must be a kubernetes-validate 'vX.Y.Z-local-strict' folder, got " + source)
    with open(os.path.join(source, "_definitions.json")) as f:
        definitions = json.load(f)["$defs"]
    out = os.path.join(out_root, match.group(1) + "-standalone-strict")
    os.makedirs(out, exist_ok=True)
    written = 0
    for name in sorted(os.listdir(source)):
        if not name.endswith(".json") or name in ("_definitions.json", "all.json"):
            continue
        with open(os.path.join(source, name)) as f:
            schema = json.load(f)
        # Only top-level kinds (they carry apiVersion and kind); nested types are reached via $defs.
        if "kind" not in schema.get("properties", {}):
            continue
        needed, queue = {}, list(refs(schema))
        while queue:
            ref = queue.pop()
            key = ref.split("#/$defs/", 1)[-1]
            if key in needed or key not in definitions:
                continue
            needed[key] = definitions[key]
            queue.extend(refs(definitions[key]))
        standalone = rewrite(schema)
        standalone["$defs"] = rewrite(needed)
        with open(os.path.join(out, name), "w") as f:
            json.dump(standalone, f)
        written += 1
    print("k8s_schemas.py: wrote %d standalone schemas to %s" % (written, out))


if __name__ == "__main__":
    main(sys.argv)
