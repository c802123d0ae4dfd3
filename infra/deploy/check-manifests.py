#!/usr/bin/env python3
"""Checks a kustomization of infra/deploy without a cluster: what `kubectl apply -k DIR` would need to find.

    infra/deploy/check-manifests.py DIR [--secrets-script FILE]

Parses every YAML document the kustomization brings in (its resources, recursively through folders that hold a
kustomization.yaml), applies its `$patch: delete` patches, and checks that:
  - every document has apiVersion, kind and metadata.name, and no two share a kind and a name;
  - every other patch targets a document that exists;
  - every Service selects the pods of some Deployment or StatefulSet, and its named targetPorts are ports of them;
  - every ConfigMap and Secret a pod reads (envFrom, env valueFrom, volumes) is generated or defined;
  - every StatefulSet's serviceName and every Ingress backend is a Service;
  - every file a generator reads is either in the repository or written by the secrets script
    (default: make-secrets.sh beside this file).
Prints "ok: N documents" or the problems, one a line, and exits 1. It cannot tell whether the images, the
operators' settings or the cluster's admission rules accept the manifests: only a real cluster can.
"""
import os
import re
import sys

import yaml


def load_kustomization(folder, problems):
    path = os.path.join(folder, "kustomization.yaml")
    with open(path, encoding="utf-8") as f:
        kustomization = yaml.safe_load(f)
    documents, generated, generator_files, patches = [], set(), [], []
    for resource in kustomization.get("resources", []):
        target = os.path.normpath(os.path.join(folder, resource))
        if os.path.isdir(target):
            sub_documents, sub_generated, sub_files, sub_patches = load_kustomization(target, problems)
            documents += sub_documents
            generated |= sub_generated
            generator_files += sub_files
            patches += sub_patches
        elif os.path.isfile(target):
            with open(target, encoding="utf-8") as f:
                documents += [(target, d) for d in yaml.safe_load_all(f) if d is not None]
        else:
            problems.append(f"{path}: resource {resource} does not exist")
    for kind in ("configMapGenerator", "secretGenerator"):
        for generator in kustomization.get(kind, []):
            generated.add(generator["name"])
            for entry in generator.get("files", []) + generator.get("envs", []):
                generator_files.append((path, os.path.normpath(os.path.join(folder, entry.split("=", 1)[-1]))))
    for patch in kustomization.get("patches", []):
        if "patch" in patch:
            patches.append((path, yaml.safe_load(patch["patch"])))
        else:
            problems.append(f"{path}: only inline patches are understood by this check")
    return documents, generated, generator_files, patches


def pod_spec(document):
    if document.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return document["spec"]["template"]
    return None


def check(folder, secrets_script):
    problems = []
    documents, generated, generator_files, patches = load_kustomization(folder, problems)
    for path, patch in patches:
        key = (patch.get("kind"), patch.get("metadata", {}).get("name"))
        matching = [d for d in documents if (d[1].get("kind"), d[1].get("metadata", {}).get("name")) == key]
        if not matching:
            problems.append(f"{path}: patch of {key[0]}/{key[1]}, which no resource defines")
        if patch.get("$patch") == "delete":
            documents = [d for d in documents if d not in matching]

    seen = {}
    for path, document in documents:
        for field in ("apiVersion", "kind"):
            if not document.get(field):
                problems.append(f"{path}: a document without {field}")
        name = document.get("metadata", {}).get("name")
        if not name:
            problems.append(f"{path}: a {document.get('kind')} without metadata.name")
        key = (document.get("kind"), name)
        if key in seen:
            problems.append(f"{path}: {key[0]}/{key[1]} is also defined in {seen[key]}")
        seen[key] = path

    defined = generated | {d.get("metadata", {}).get("name") for _, d in documents if d.get("kind") in ("ConfigMap", "Secret")}
    workloads = [(path, d, pod_spec(d)) for path, d in documents if pod_spec(d) is not None]
    services = {d["metadata"]["name"]: (path, d) for path, d in documents if d.get("kind") == "Service"}

    for path, document, template in workloads:
        labels = template.get("metadata", {}).get("labels", {})
        selector = document["spec"].get("selector", {}).get("matchLabels", {})
        if any(labels.get(k) != v for k, v in selector.items()):
            problems.append(f"{path}: {document['kind']}/{document['metadata']['name']} selector {selector} does not match its pods' labels")
        spec = template["spec"]
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            for source in container.get("envFrom", []):
                for ref in ("configMapRef", "secretRef"):
                    if ref in source and source[ref]["name"] not in defined:
                        problems.append(f"{path}: {container['name']} reads {ref} {source[ref]['name']}, which nothing defines")
            for variable in container.get("env", []):
                for ref in ("configMapKeyRef", "secretKeyRef"):
                    name = variable.get("valueFrom", {}).get(ref, {}).get("name")
                    if name and name not in defined:
                        problems.append(f"{path}: {container['name']} reads {ref} {name}, which nothing defines")
            mounts = {v["name"] for v in spec.get("volumes", [])} | {
                t["metadata"]["name"] for t in document["spec"].get("volumeClaimTemplates", [])}
            for mount in container.get("volumeMounts", []):
                if mount["name"] not in mounts:
                    problems.append(f"{path}: {container['name']} mounts volume {mount['name']}, which the pod does not have")
        for volume in spec.get("volumes", []):
            name = volume.get("secret", {}).get("secretName") or volume.get("configMap", {}).get("name")
            if name and name not in defined:
                problems.append(f"{path}: volume {volume['name']} reads {name}, which nothing defines")
        if document["kind"] == "StatefulSet" and document["spec"].get("serviceName") not in services:
            problems.append(f"{path}: StatefulSet/{document['metadata']['name']} names service {document['spec'].get('serviceName')}, which does not exist")

    for name, (path, service) in services.items():
        selector = service["spec"].get("selector", {})
        pods = [(d, t) for _, d, t in workloads if all(t.get("metadata", {}).get("labels", {}).get(k) == v for k, v in selector.items())]
        if not pods:
            problems.append(f"{path}: Service/{name} selects {selector}: no pods carry those labels")
            continue
        ports = {p.get("name") for _, t in pods for c in t["spec"]["containers"] for p in c.get("ports", [])}
        for port in service["spec"].get("ports", []):
            target = port.get("targetPort")
            if isinstance(target, str) and target not in ports:
                problems.append(f"{path}: Service/{name} targets port '{target}', which its pods do not declare")

    for path, document in documents:
        if document.get("kind") == "Ingress":
            for rule in document["spec"].get("rules", []):
                for route in rule.get("http", {}).get("paths", []):
                    backend = route["backend"]["service"]["name"]
                    if backend not in services:
                        problems.append(f"{path}: Ingress/{document['metadata']['name']} routes to Service {backend}, which does not exist")

    script = open(secrets_script, encoding="utf-8").read() if os.path.isfile(secrets_script) else ""
    for path, file in generator_files:
        written = re.search(r'\$dir/' + re.escape(os.path.basename(file)) + r'\b', script)
        if not os.path.isfile(file) and not written:
            problems.append(f"{path}: generator file {file} is neither in the repository nor written by {secrets_script}")

    return len(documents), problems


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    folder = argv[1]
    script = argv[argv.index("--secrets-script") + 1] if "--secrets-script" in argv else os.path.join(os.path.dirname(os.path.abspath(__file__)), "make-secrets.sh")
    count, problems = check(folder, script)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"ok: {count} documents")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
