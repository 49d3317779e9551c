"""Labels and help text for every workload-profile field (DESIGN.md §2), grouped like the schema."""
from __future__ import annotations

GROUPS: dict[str, tuple[str, str]] = {
    "": (":material/badge: General", "What the workload is called and where it runs."),
    "model": (":material/model_training: Model", "Facts about the model; filled in when you pick a model on the Model page."),
    "inference": (":material/speed: Inference", "How the model is called: traffic, latency, payloads, hardware."),
    "scale": (":material/trending_up: Scale", "Idle cost and availability."),
    "security": (":material/shield: Security", "Network isolation and how callers authenticate."),
    "team": (":material/groups: Team", "Who runs it, and what they already have."),
    "operations": (":material/monitoring: Operations", "Monitoring, rollout and the services it must work with."),
    "budget": (":material/payments: Budget", "What it may cost."),
}

LABELS: dict[str, str] = {
    "name": "Workload name",
    "region": "Azure region",
    "regions": "Active in these regions",
    "model.framework": "Framework",
    "model.format": "Packaging format",
    "model.size_mb": "Model size (MB)",
    "model.from_registry": "From an Azure ML registry",
    "inference.mode": "Inference mode",
    "inference.peak_rps": "Peak requests / s",
    "inference.average_rps": "Average requests / s",
    "inference.pattern": "Traffic pattern",
    "inference.p95_latency_ms": "p95 latency target (ms)",
    "inference.payload_kb": "Request payload (KB)",
    "inference.max_request_seconds": "Longest request (s)",
    "inference.gpu": "GPU",
    "scale.scale_to_zero": "Scale to zero when idle",
    "scale.availability_sla": "Availability SLA (%)",
    "scale.schedule": "Busy hours (schedule)",
    "security.network": "Network isolation",
    "security.auth": "Caller authentication",
    "team.kind": "Team",
    "team.kubernetes_skill": "Kubernetes skill",
    "team.existing_aks": "Already runs an AKS cluster",
    "team.existing_web_app": "Already runs App Service apps",
    "team.needs_kubernetes_api": "Needs the Kubernetes API",
    "operations.drift_monitoring": "Model drift monitoring",
    "operations.rollout": "Rollout strategy",
    "operations.integrations": "Integrations",
    "budget.monthly_usd": "Monthly budget (USD)",
}

HELP: dict[str, str] = {
    "name": "A free label; it also seeds the deployment name (lowercased, dashes).",
    "region": "Azure region short name, e.g. eastus, westeurope, swedencentral. Prices and quotas are per region.",
    "regions": "Leave empty for one region. Several regions (one per line, the first equal to the region above) "
               "means active in each, e.g. behind Front Door for an SLA one region does not offer.",
    "model.framework": "The library the model was trained with; decides the serving image and GPU support.",
    "model.format": "mlflow: an MLflow model folder (no scoring code needed on Azure ML). custom: your own scoring script.",
    "model.size_mb": "Size of the model files; large models need more memory per instance and load more slowly.",
    "model.from_registry": "The model comes from an Azure ML registry or the model catalog "
                           "(only managed online endpoints deploy registry models directly).",
    "inference.mode": "realtime: one request at a time over HTTPS. batch: score files asynchronously. both: need both.",
    "inference.peak_rps": "Requests per second at the busiest time; sizing is done for this load.",
    "inference.average_rps": "Typical requests per second; drives the monthly cost when autoscaling.",
    "inference.pattern": "steady: flat; diurnal: day/night cycle; bursty: sudden spikes; sporadic: long idle gaps.",
    "inference.p95_latency_ms": "End-to-end time 95 % of requests must beat, network included.",
    "inference.payload_kb": "Typical request body size; large payloads hit request-size limits on some targets.",
    "inference.max_request_seconds": "The longest single request, processing included; each target has a timeout.",
    "inference.gpu": "none: CPU only. preferred: use a GPU where it pays off. required: excludes CPU-only targets.",
    "scale.scale_to_zero": "Must cost (almost) nothing when no requests come in; online endpoints keep at least one instance.",
    "scale.availability_sla": "Uptime the service must promise, in percent (99.9 is three nines). "
                              "Higher SLAs need more instances or zones.",
    "scale.schedule": "Busy hours, as YAML, e.g. {days: mon-fri, hours: \"08:00-18:00\", timezone: Europe/Paris}. "
                      "Outside them the workload scales to its minimum and is priced so. Empty: busy all week.",
    "security.network": "public: internet endpoint. managed-vnet: platform-managed private network. "
                        "custom-vnet: your own VNet. on-premises: must run outside Azure (Arc / Kubernetes).",
    "security.auth": "key: a static key header. entra: Microsoft Entra ID tokens. none: anonymous (not recommended).",
    "team.kind": "Who will own the service day to day: data scientists, app developers or a platform team.",
    "team.kubernetes_skill": "How comfortable the team is running Kubernetes; weighs the operations burden of AKS.",
    "team.existing_aks": "An AKS cluster already exists and can host the model (no new cluster cost).",
    "team.existing_web_app": "The team already runs App Service plans that can host the model.",
    "team.needs_kubernetes_api": "The workload needs kubectl / custom resources / sidecars (only AKS gives that).",
    "operations.drift_monitoring": "Watch input data and prediction drift (built into Azure ML).",
    "operations.rollout": "simple: replace in place. blue-green: swap. canary: traffic split. "
                          "shadow: mirror live traffic to the new version.",
    "operations.integrations": "Other Azure services the model works with; some targets integrate natively.",
    "budget.monthly_usd": "Upper limit for the monthly cost; leave empty for no limit. Targets over budget lose points.",
}
