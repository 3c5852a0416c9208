"""Who the synthetic users are: personas, their tastes and the services they use together.

The generator draws each user from one of these personas, so the data has the
structure a recommender should find: users of one role favour the same
categories and core services, and adopt whole stacks (co-usage bundles) rather
than isolated services. Tests read the same definitions as ground truth.

Every value is an immutable tuple so the module holds no mutable global state.
"""

from __future__ import annotations

from dataclasses import dataclass

COMPUTE = "Compute"
CONTAINERS = "Containers"
STORAGE = "Storage"
DATABASE = "Database"
NETWORKING = "Networking & Content Delivery"
MACHINE_LEARNING = "Machine Learning"
ANALYTICS = "Analytics"
SECURITY = "Security Identity & Compliance"
MANAGEMENT = "Management & Governance"
DEVELOPER_TOOLS = "Developer Tools"
INTEGRATION = "Application Integration"
IOT = "IoT"
MEDIA = "Media Services"
END_USER_COMPUTING = "End User Computing"
MIGRATION = "Migration & Transfer"
BUSINESS_APPLICATIONS = "Business Applications"
FRONT_END = "Front-End Web & Mobile"
COST_MANAGEMENT = "Cost Management"


@dataclass(frozen=True)
class Bundle:
    """Services deployed together; the first member is the one a user usually starts from."""

    name: str
    services: tuple[str, ...]


@dataclass(frozen=True)
class Persona:
    """A user role with latent preferences.

    ``share`` is the fraction of users drawn from this persona (normalised over
    all personas). ``category_weights`` and ``core_services`` are relative
    weights; ``bundles`` names the co-usage bundles this role adopts, with
    relative weights.
    """

    name: str
    share: float
    category_weights: tuple[tuple[str, float], ...]
    core_services: tuple[tuple[str, float], ...]
    bundles: tuple[tuple[str, float], ...]

    @property
    def preferred_categories(self) -> frozenset[str]:
        """The categories this persona leans towards (every category it weights)."""
        return frozenset(category for category, _ in self.category_weights)

    @property
    def core_service_names(self) -> frozenset[str]:
        return frozenset(service for service, _ in self.core_services)


BUNDLES: tuple[Bundle, ...] = (
    Bundle("compute_base", ("Amazon EC2", "Amazon EBS", "Amazon VPC")),
    Bundle(
        "web_tier",
        ("Amazon EC2", "Elastic Load Balancing", "Amazon EC2 Auto Scaling", "Amazon RDS"),
    ),
    Bundle(
        "static_site",
        ("Amazon S3", "Amazon CloudFront", "Amazon Route 53", "AWS Certificate Manager"),
    ),
    Bundle("beanstalk_app", ("AWS Elastic Beanstalk", "Amazon RDS", "Amazon Route 53")),
    Bundle(
        "fullstack_app",
        ("AWS Amplify", "Amazon Cognito", "AWS AppSync", "Amazon DynamoDB"),
    ),
    Bundle("serverless_api", ("AWS Lambda", "Amazon API Gateway", "Amazon DynamoDB")),
    Bundle(
        "event_driven",
        ("Amazon EventBridge", "AWS Lambda", "Amazon SQS", "Amazon SNS"),
    ),
    Bundle("serverless_workflow", ("AWS Step Functions", "AWS Lambda", "Amazon SQS")),
    Bundle(
        "serverless_tooling",
        ("AWS Serverless Application Model", "AWS CloudFormation", "AWS X-Ray"),
    ),
    Bundle("data_lake", ("Amazon S3", "AWS Glue", "Amazon Athena", "AWS Lake Formation")),
    Bundle(
        "streaming_ingest",
        (
            "Amazon Kinesis Data Streams",
            "Amazon Data Firehose",
            "Amazon Managed Service for Apache Flink",
            "Amazon S3",
        ),
    ),
    Bundle("kafka_pipeline", ("Amazon MSK", "Amazon Managed Service for Apache Flink")),
    Bundle("spark_processing", ("Amazon EMR", "Amazon S3", "AWS Glue")),
    Bundle(
        "pipeline_orchestration",
        ("Amazon Managed Workflows for Apache Airflow", "AWS Glue", "Amazon EMR"),
    ),
    Bundle("warehouse", ("Amazon Redshift", "AWS Glue", "Amazon QuickSight")),
    Bundle(
        "database_migration",
        ("AWS Database Migration Service", "Amazon Aurora", "Amazon RDS"),
    ),
    Bundle("sagemaker_workflow", ("Amazon SageMaker", "Amazon S3", "AWS Glue")),
    Bundle("model_serving", ("Amazon SageMaker", "Amazon ECR", "Amazon CloudWatch")),
    Bundle(
        "generative_ai",
        ("Amazon Bedrock", "AWS Lambda", "Amazon OpenSearch Service", "Amazon Kendra"),
    ),
    Bundle(
        "document_ai",
        ("Amazon Textract", "Amazon Comprehend", "Amazon S3", "Amazon Augmented AI"),
    ),
    Bundle("recommender", ("Amazon Personalize", "Amazon S3", "AWS Lambda")),
    Bundle("training_data", ("Amazon SageMaker Ground Truth", "Amazon SageMaker", "Amazon S3")),
    Bundle(
        "ci_cd",
        ("AWS CodePipeline", "AWS CodeBuild", "AWS CodeDeploy", "AWS CodeArtifact"),
    ),
    Bundle("kubernetes", ("Amazon EKS", "Amazon ECR", "Elastic Load Balancing")),
    Bundle(
        "ecs_fargate",
        ("Amazon ECS", "AWS Fargate", "Amazon ECR", "Elastic Load Balancing"),
    ),
    Bundle(
        "infrastructure_as_code",
        ("AWS CloudFormation", "AWS Cloud Development Kit", "AWS Systems Manager"),
    ),
    Bundle(
        "observability",
        (
            "Amazon CloudWatch",
            "AWS X-Ray",
            "Amazon Managed Grafana",
            "Amazon Managed Service for Prometheus",
        ),
    ),
    Bundle("threat_detection", ("Amazon GuardDuty", "AWS Security Hub", "Amazon Detective")),
    Bundle("audit_trail", ("AWS CloudTrail", "AWS Config", "AWS Audit Manager")),
    Bundle("data_protection", ("AWS KMS", "AWS Secrets Manager", "Amazon Macie")),
    Bundle(
        "edge_protection",
        ("AWS WAF", "AWS Shield", "Amazon CloudFront", "AWS Firewall Manager"),
    ),
    Bundle("identity", ("AWS IAM", "AWS IAM Identity Center", "AWS Organizations")),
    Bundle("network_security", ("AWS Network Firewall", "Amazon VPC", "AWS Firewall Manager")),
    Bundle("bi_dashboards", ("Amazon QuickSight", "Amazon Athena", "Amazon S3")),
    Bundle("data_prep", ("AWS Glue DataBrew", "Amazon S3", "Amazon QuickSight")),
    Bundle("log_analytics", ("Amazon OpenSearch Service", "Amazon Data Firehose")),
    Bundle(
        "mobile_engagement",
        ("Amazon Pinpoint", "Amazon SNS", "Amazon Cognito", "AWS End User Messaging"),
    ),
    Bundle("mobile_testing", ("AWS Device Farm", "AWS CodeBuild")),
    Bundle("location_app", ("Amazon Location Service", "AWS Amplify", "Amazon Cognito")),
    Bundle("iot_ingest", ("AWS IoT Core", "AWS Lambda", "Amazon DynamoDB")),
    Bundle(
        "iot_edge",
        ("AWS IoT Greengrass", "AWS IoT Core", "AWS IoT Device Management"),
    ),
    Bundle(
        "industrial_iot",
        ("AWS IoT SiteWise", "AWS IoT TwinMaker", "Amazon Timestream"),
    ),
    Bundle(
        "iot_fleet_security",
        ("AWS IoT Device Defender", "AWS IoT Device Management", "AWS IoT Core"),
    ),
    Bundle("iot_telemetry", ("AWS IoT Core", "Amazon Kinesis Data Streams", "Amazon Timestream")),
    Bundle(
        "landing_zone",
        ("AWS Control Tower", "AWS Organizations", "AWS IAM Identity Center"),
    ),
    Bundle("cost_governance", ("AWS Cost Explorer", "AWS Budgets", "AWS Cost and Usage Report")),
    Bundle(
        "server_migration",
        (
            "AWS Migration Hub",
            "AWS Application Migration Service",
            "AWS Application Discovery Service",
        ),
    ),
    Bundle(
        "hybrid_network",
        ("AWS Direct Connect", "AWS Transit Gateway", "Amazon VPC", "AWS Site-to-Site VPN"),
    ),
    Bundle("virtual_desktops", ("Amazon WorkSpaces", "AWS Directory Service")),
    Bundle(
        "video_on_demand",
        ("AWS Elemental MediaConvert", "Amazon S3", "Amazon CloudFront"),
    ),
    Bundle(
        "live_streaming",
        ("AWS Elemental MediaLive", "AWS Elemental MediaPackage", "Amazon CloudFront"),
    ),
    Bundle("ad_insertion", ("AWS Elemental MediaTailor", "AWS Elemental MediaPackage")),
)


PERSONAS: tuple[Persona, ...] = (
    Persona(
        name="Web Developer",
        share=0.15,
        category_weights=(
            (COMPUTE, 3.0),
            (NETWORKING, 3.0),
            (FRONT_END, 2.0),
            (DATABASE, 2.0),
            (STORAGE, 1.5),
        ),
        core_services=(
            ("Amazon EC2", 3.0),
            ("Amazon S3", 2.5),
            ("Amazon CloudFront", 2.0),
            ("Amazon Route 53", 2.0),
            ("Amazon RDS", 2.0),
            ("Elastic Load Balancing", 1.5),
            ("AWS Elastic Beanstalk", 1.5),
            ("Amazon Lightsail", 1.5),
            ("AWS Amplify", 1.0),
            ("Amazon ElastiCache", 1.0),
        ),
        bundles=(
            ("compute_base", 3.0),
            ("web_tier", 3.0),
            ("static_site", 3.0),
            ("beanstalk_app", 1.5),
            ("fullstack_app", 1.0),
        ),
    ),
    Persona(
        name="Data Engineer",
        share=0.12,
        category_weights=(
            (ANALYTICS, 5.0),
            (STORAGE, 1.5),
            (DATABASE, 1.5),
            (INTEGRATION, 1.0),
            (MIGRATION, 1.0),
        ),
        core_services=(
            ("AWS Glue", 3.0),
            ("Amazon S3", 2.5),
            ("Amazon Athena", 2.0),
            ("Amazon Redshift", 2.0),
            ("Amazon EMR", 2.0),
            ("Amazon Kinesis Data Streams", 1.5),
            ("Amazon Data Firehose", 1.0),
            ("AWS Lake Formation", 1.0),
            ("Amazon Managed Workflows for Apache Airflow", 1.0),
            ("Amazon MSK", 1.0),
        ),
        bundles=(
            ("data_lake", 3.0),
            ("streaming_ingest", 2.0),
            ("spark_processing", 2.0),
            ("pipeline_orchestration", 1.5),
            ("warehouse", 1.5),
            ("kafka_pipeline", 1.0),
            ("database_migration", 1.0),
        ),
    ),
    Persona(
        name="ML Engineer",
        share=0.12,
        category_weights=(
            (MACHINE_LEARNING, 6.0),
            (STORAGE, 1.0),
            (ANALYTICS, 1.0),
            (CONTAINERS, 0.5),
        ),
        core_services=(
            ("Amazon SageMaker", 4.0),
            ("Amazon Bedrock", 3.0),
            ("Amazon S3", 2.0),
            ("AWS Glue", 1.0),
            ("Amazon Personalize", 1.0),
            ("Amazon Rekognition", 1.0),
            ("Amazon Comprehend", 1.0),
            ("Amazon Textract", 1.0),
            ("Amazon ECR", 0.8),
        ),
        bundles=(
            ("sagemaker_workflow", 4.0),
            ("model_serving", 2.0),
            ("generative_ai", 2.5),
            ("document_ai", 1.0),
            ("recommender", 1.0),
            ("training_data", 1.0),
        ),
    ),
    Persona(
        name="DevOps Engineer",
        share=0.12,
        category_weights=(
            (DEVELOPER_TOOLS, 4.0),
            (CONTAINERS, 3.0),
            (MANAGEMENT, 3.0),
            (COMPUTE, 1.0),
        ),
        core_services=(
            ("AWS CodePipeline", 2.5),
            ("AWS CodeBuild", 2.5),
            ("AWS CloudFormation", 2.5),
            ("Amazon EKS", 2.0),
            ("Amazon ECR", 2.0),
            ("Amazon ECS", 2.0),
            ("Amazon CloudWatch", 2.0),
            ("AWS Systems Manager", 1.5),
            ("AWS CodeDeploy", 1.5),
            ("AWS Cloud Development Kit", 1.0),
        ),
        bundles=(
            ("ci_cd", 3.0),
            ("kubernetes", 3.0),
            ("ecs_fargate", 2.0),
            ("infrastructure_as_code", 2.0),
            ("observability", 2.0),
        ),
    ),
    Persona(
        name="Security Engineer",
        share=0.08,
        category_weights=((SECURITY, 6.0), (MANAGEMENT, 2.0)),
        core_services=(
            ("AWS IAM", 3.0),
            ("AWS KMS", 2.5),
            ("Amazon GuardDuty", 2.5),
            ("AWS Security Hub", 2.0),
            ("AWS CloudTrail", 2.0),
            ("AWS Config", 1.5),
            ("AWS WAF", 1.5),
            ("Amazon Inspector", 1.0),
            ("Amazon Macie", 1.0),
            ("AWS Secrets Manager", 1.0),
        ),
        bundles=(
            ("threat_detection", 3.0),
            ("audit_trail", 2.5),
            ("data_protection", 2.0),
            ("edge_protection", 1.5),
            ("identity", 2.0),
            ("network_security", 1.0),
        ),
    ),
    Persona(
        name="BI Analyst",
        share=0.08,
        category_weights=((ANALYTICS, 5.0), (DATABASE, 1.0), (BUSINESS_APPLICATIONS, 0.5)),
        core_services=(
            ("Amazon QuickSight", 4.0),
            ("Amazon Athena", 3.0),
            ("Amazon Redshift", 2.5),
            ("Amazon S3", 1.5),
            ("AWS Glue DataBrew", 1.5),
            ("Amazon OpenSearch Service", 1.0),
            ("Amazon DataZone", 0.8),
        ),
        bundles=(
            ("bi_dashboards", 4.0),
            ("warehouse", 2.0),
            ("data_prep", 1.5),
            ("log_analytics", 1.0),
        ),
    ),
    Persona(
        name="Mobile Developer",
        share=0.07,
        category_weights=(
            (FRONT_END, 5.0),
            (DATABASE, 1.0),
            (INTEGRATION, 1.0),
            (BUSINESS_APPLICATIONS, 1.0),
            (SECURITY, 0.5),
        ),
        core_services=(
            ("AWS Amplify", 4.0),
            ("Amazon Cognito", 3.0),
            ("AWS AppSync", 2.0),
            ("AWS Device Farm", 1.5),
            ("Amazon Pinpoint", 1.5),
            ("Amazon DynamoDB", 1.5),
            ("Amazon SNS", 1.0),
            ("Amazon Location Service", 1.0),
        ),
        bundles=(
            ("fullstack_app", 4.0),
            ("mobile_engagement", 2.0),
            ("mobile_testing", 1.5),
            ("location_app", 1.0),
            ("serverless_api", 1.0),
        ),
    ),
    Persona(
        name="IoT Engineer",
        share=0.05,
        category_weights=((IOT, 6.0), (DATABASE, 1.0), (ANALYTICS, 1.0)),
        core_services=(
            ("AWS IoT Core", 4.0),
            ("AWS IoT Greengrass", 2.0),
            ("AWS IoT Device Management", 1.5),
            ("AWS IoT SiteWise", 1.5),
            ("Amazon Timestream", 1.5),
            ("AWS IoT Events", 1.0),
            ("FreeRTOS", 1.0),
        ),
        bundles=(
            ("iot_ingest", 3.0),
            ("iot_edge", 2.0),
            ("industrial_iot", 1.5),
            ("iot_fleet_security", 1.0),
            ("iot_telemetry", 1.5),
        ),
    ),
    Persona(
        name="Serverless Developer",
        share=0.11,
        category_weights=(
            (COMPUTE, 2.0),
            (INTEGRATION, 4.0),
            (DATABASE, 1.5),
            (DEVELOPER_TOOLS, 1.0),
        ),
        core_services=(
            ("AWS Lambda", 5.0),
            ("Amazon API Gateway", 3.0),
            ("Amazon DynamoDB", 3.0),
            ("AWS Step Functions", 2.0),
            ("Amazon EventBridge", 2.0),
            ("Amazon SQS", 1.5),
            ("Amazon SNS", 1.0),
            ("AWS Serverless Application Model", 1.0),
        ),
        bundles=(
            ("serverless_api", 5.0),
            ("event_driven", 2.5),
            ("serverless_workflow", 2.0),
            ("serverless_tooling", 1.5),
        ),
    ),
    Persona(
        name="Cloud Architect",
        share=0.07,
        category_weights=(
            (MANAGEMENT, 3.0),
            (NETWORKING, 2.0),
            (MIGRATION, 2.0),
            (COST_MANAGEMENT, 2.0),
            (END_USER_COMPUTING, 1.0),
        ),
        core_services=(
            ("AWS Organizations", 2.5),
            ("AWS Control Tower", 2.0),
            ("AWS Cost Explorer", 2.0),
            ("AWS Transit Gateway", 1.5),
            ("AWS Direct Connect", 1.5),
            ("AWS Application Migration Service", 1.5),
            ("AWS Well-Architected Tool", 1.0),
            ("AWS Budgets", 1.0),
            ("Amazon WorkSpaces", 1.0),
        ),
        bundles=(
            ("landing_zone", 3.0),
            ("cost_governance", 2.5),
            ("server_migration", 2.0),
            ("hybrid_network", 2.0),
            ("virtual_desktops", 1.0),
        ),
    ),
    Persona(
        name="Media Engineer",
        share=0.03,
        category_weights=((MEDIA, 6.0), (NETWORKING, 1.0), (STORAGE, 1.0)),
        core_services=(
            ("AWS Elemental MediaConvert", 3.0),
            ("AWS Elemental MediaLive", 2.5),
            ("AWS Elemental MediaPackage", 2.0),
            ("Amazon CloudFront", 2.0),
            ("Amazon Interactive Video Service", 1.5),
            ("Amazon S3", 1.5),
            ("Amazon Kinesis Video Streams", 1.0),
        ),
        bundles=(
            ("video_on_demand", 3.0),
            ("live_streaming", 3.0),
            ("ad_insertion", 1.0),
        ),
    ),
)


POPULARITY_HEAD: tuple[str, ...] = (
    "Amazon S3",
    "Amazon EC2",
    "AWS Lambda",
    "AWS IAM",
    "Amazon CloudWatch",
    "Amazon VPC",
    "Amazon RDS",
    "Amazon DynamoDB",
    "Amazon CloudFront",
    "Amazon Route 53",
    "Amazon EBS",
    "Elastic Load Balancing",
    "Amazon API Gateway",
    "Amazon SQS",
    "Amazon SNS",
    "AWS CloudFormation",
    "Amazon ECS",
    "Amazon EKS",
    "Amazon ECR",
    "AWS KMS",
    "AWS CloudTrail",
    "Amazon Aurora",
    "Amazon SageMaker",
    "AWS Glue",
    "Amazon Athena",
    "Amazon Bedrock",
    "AWS Secrets Manager",
    "Amazon Cognito",
    "AWS Systems Manager",
    "Amazon EventBridge",
    "AWS Step Functions",
    "Amazon Redshift",
    "Amazon ElastiCache",
    "Amazon Kinesis Data Streams",
    "AWS Fargate",
    "Amazon EFS",
    "AWS Certificate Manager",
    "AWS Organizations",
    "AWS Config",
    "Amazon GuardDuty",
    "AWS Cost Explorer",
    "AWS Budgets",
    "AWS CodePipeline",
    "AWS CodeBuild",
    "AWS Amplify",
    "Amazon OpenSearch Service",
    "Amazon EMR",
    "AWS WAF",
    "AWS Backup",
    "Amazon QuickSight",
)
"""Services in order of overall popularity; the rest of a catalogue follows in a fixed
pseudo-random order, so the long tail does not depend on catalogue row order."""
