"""The Container Apps plan's artifacts: what a user needs to deploy the same thing by hand or from CI.

- `containerapps/containerapp.yaml`: the app for `az containerapp create|update --yaml` (the ARM resource
  shape the Azure CLI reads), with the key as `${SCORING_KEY}` for envsubst: no secret is ever written.
- `containerapps/azuredeploy.json` + `.parameters.json`: an ARM template for the environment and the app
  (the key is a securestring parameter the parameters file leaves out).
- `containerapps/README.md`: the commands, in order (the AcrPull bootstrap included).
- `image/...`: the image build context as text (model weights are rebuilt by `plan`, not exported).

Everything is built from the same dicts apply sends (deployers.containerapps.app_body / environment_body).
"""
from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from .containerapps import Resolved

KEY_PLACEHOLDER = "${SCORING_KEY}"
ARM_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
PARAMS_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#"
APP_API, ENV_API = "2025-01-01", "2025-01-01"


def containerapp_yaml(r: "Resolved") -> str:
    """The container app as `az containerapp create --yaml` reads it (type and name included)."""
    from .containerapps import app_body

    body = app_body(r, KEY_PLACEHOLDER, [{"latestRevision": True, "weight": 100}])
    doc = {"name": r.app_name, "type": "Microsoft.App/containerApps", **body}
    head = (f"# Container app {r.app_name} for deployment {r.deployment}, written by deploy-advisor.\n"
            "# The scoring key is a placeholder: fill it with envsubst, never commit the filled file.\n"
            f"#   SCORING_KEY=... envsubst '$SCORING_KEY' < containerapp.yaml > /tmp/{r.app_name}.yaml\n"
            f"#   az containerapp create -n {r.app_name} -g RESOURCE_GROUP --yaml /tmp/{r.app_name}.yaml\n")
    return head + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def arm_template(r: "Resolved") -> dict[str, Any]:
    """Environment (optional) + container app; the key is a securestring parameter."""
    from .containerapps import app_body, environment_body

    env = environment_body(r)
    env_props = dict(env["properties"])
    if "vnetConfiguration" in env_props:
        env_props["vnetConfiguration"] = {"infrastructureSubnetId": "[parameters('subnetId')]",
                                          "internal": env_props["vnetConfiguration"]["internal"]}
    app = app_body(r, "[parameters('scoringKey')]", [{"latestRevision": True, "weight": 100}])
    props = app["properties"]
    props["managedEnvironmentId"] = "[resourceId('Microsoft.App/managedEnvironments', parameters('environmentName'))]"
    container = props["template"]["containers"][0]
    container["image"] = "[parameters('image')]"
    props["template"].pop("revisionSuffix", None)  # a hand deploy names its own revisions
    params: dict[str, Any] = {
        "location": {"type": "string", "defaultValue": "[resourceGroup().location]"},
        "environmentName": {"type": "string", "defaultValue": r.environment},
        "createEnvironment": {"type": "bool", "defaultValue": True,
                              "metadata": {"description": "false to use an existing environment as it is"}},
        "createApp": {"type": "bool", "defaultValue": True,
                      "metadata": {"description": "false for the environment only (first deploy: see README.md)"}},
        "appName": {"type": "string", "defaultValue": r.app_name, "maxLength": 32},
        "image": {"type": "string", "defaultValue": r.image or "",
                  "metadata": {"description": "the scoring image; the app's identity needs AcrPull on its "
                                              "registry first (README.md)"}},
        "scoringKey": {"type": "securestring", "defaultValue": "", "metadata": {"description": "clients send it as 'Authorization: "
                                                                           "Bearer <key>'"}},
    }
    if r.subnet_id:
        params["subnetId"] = {"type": "string", "defaultValue": r.subnet_id}
    return {
        "$schema": ARM_SCHEMA, "contentVersion": "1.0.0.0", "parameters": params,
        "resources": [
            {"condition": "[parameters('createEnvironment')]", "type": "Microsoft.App/managedEnvironments",
             "apiVersion": ENV_API, "name": "[parameters('environmentName')]", "location": "[parameters('location')]",
             "tags": env["tags"], "properties": env_props},
            {"condition": "[parameters('createApp')]", "type": "Microsoft.App/containerApps", "apiVersion": APP_API,
             "name": "[parameters('appName')]",
             "location": "[parameters('location')]", "tags": app["tags"], "identity": app["identity"],
             "dependsOn": ["[resourceId('Microsoft.App/managedEnvironments', parameters('environmentName'))]"],
             "properties": props},
        ],
        "outputs": {
            "fqdn": {"condition": "[parameters('createApp')]", "type": "string",
                     "value": "[reference(resourceId('Microsoft.App/containerApps', parameters('appName')))"
                              ".configuration.ingress.fqdn]"},
        },
    }


def arm_parameters(r: "Resolved") -> dict[str, Any]:
    values: dict[str, Any] = {"environmentName": r.environment, "appName": r.app_name, "image": r.image or ""}
    if r.subnet_id:
        values["subnetId"] = r.subnet_id
    return {"$schema": PARAMS_SCHEMA, "contentVersion": "1.0.0.0",
            "parameters": {k: {"value": v} for k, v in values.items()}}


def readme(r: "Resolved", binary: list[str]) -> str:
    q = shlex.quote
    rg = q(r.resource_group or "<resource-group>")
    app, env = q(r.app_name), q(r.environment)
    lines = [
        f"# Deploy {r.app_name} to Azure Container Apps by hand",
        "",
        f"Environment `{r.environment}` ({', '.join(p['workloadProfileType'] for p in _profiles(r))}), app "
        f"`{r.app_name}`: {r.cpu:g} vCPU / {r.memory_gib:g} GiB per replica, {r.min_replicas}-{r.max_replicas} "
        f"replicas, {'external' if r.external else 'internal'} ingress on port {r.port}, multiple-revision mode.",
        "",
        "Run these from this folder (`containerapps/`).",
        "",
        "1. Build the image (skip when it is already in the registry):",
        "",
        f"       az acr build -r {q(r.registry or '<registry>')} -t {q(_repo_tag(r))} ../image/",
        ""]
    if binary:
        lines += [f"   `plan` writes the model files too ({', '.join(binary)}); they are not exported as text.", ""]
    lines += [
        "2. A scoring key, kept out of every file:",
        "",
        "       export SCORING_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')",
        "",
        "3. The environment (the ARM template without the app):",
        "",
        f"       az deployment group create -g {rg} --template-file azuredeploy.json "
        "--parameters @azuredeploy.parameters.json --parameters createApp=false",
        "",
        "4. The app on a public image first, so its system-assigned identity exists before it is granted AcrPull:",
        "",
        f"       az containerapp create -n {app} -g {rg} --environment {env} --system-assigned "
        "--image mcr.microsoft.com/k8se/quickstart:latest --ingress " + ("external" if r.external else "internal")
        + " --target-port 80",
        f"       az role assignment create --role AcrPull --assignee-principal-type ServicePrincipal "
        f"--assignee-object-id $(az containerapp show -n {app} -g {rg} --query identity.principalId -o tsv) "
        f"--scope $(az acr show -n {q(r.registry or '<registry>')} --query id -o tsv)",
        "",
        "5. The scoring image as a new revision (the YAML is what `az containerapp create|update --yaml` reads;",
        "   or run step 3 again with createApp=true image=... scoringKey=\"$SCORING_KEY\"):",
        "",
        f"       envsubst '$SCORING_KEY' < containerapp.yaml > /tmp/{r.app_name}.yaml",
        f"       az containerapp update -n {app} -g {rg} --yaml /tmp/{r.app_name}.yaml && rm /tmp/{r.app_name}.yaml",
        "",
        "6. Check it, then score:",
        "",
        f"       az containerapp revision list -n {app} -g {rg} -o table",
        f"       curl -sS https://$(az containerapp show -n {app} -g {rg} --query properties.configuration.ingress.fqdn "
        "-o tsv)/score -H \"Authorization: Bearer $SCORING_KEY\" -H 'Content-Type: application/json' -d @input.json",
        "",
        "Later versions: run step 5 with the new image. The new revision starts at 0 % when traffic is pinned "
        f"(`az containerapp ingress traffic set -n {app} -g {rg} --revision-weight <old>=100`); test it on its "
        "revision URL, then move traffic. Logs: "
        f"`az containerapp logs show -n {app} -g {rg} --follow`.",
        "",
        f"Delete: `az containerapp delete -n {app} -g {rg}`, then `az containerapp env delete -n {env} -g {rg}` "
        "(an environment that still holds apps cannot be deleted).",
        ""]
    return "\n".join(lines)


def artifacts(r: "Resolved", build: dict[str, Any]) -> dict[str, str]:
    from .planning import artifact_text

    arts = {
        "containerapps/containerapp.yaml": containerapp_yaml(r),
        "containerapps/azuredeploy.json": json.dumps(arm_template(r), indent=2) + "\n",
        "containerapps/azuredeploy.parameters.json": json.dumps(arm_parameters(r), indent=2) + "\n",
    }
    binary: list[str] = []
    for rel, data in build.items():
        text = artifact_text(data)
        if text is None:
            binary.append(rel)
        else:
            arts[f"image/{rel}"] = text
    arts["containerapps/README.md"] = readme(r, sorted(binary))
    return arts


def _profiles(r: "Resolved") -> list[dict]:
    from .containerapps import workload_profiles
    return workload_profiles(r)


def _repo_tag(r: "Resolved") -> str:
    return r.image.split(".azurecr.io/", 1)[-1] if r.image else f"{r.repository}:<tag>"
