"""The IAM documents: valid JSON, accepted by LocalStack's IAM, and each policy's actions are exactly
the operations the sink it serves calls (CloudWatch Logs, Firehose, Kinesis Data Streams), on the
named group prefix or stream only."""

from __future__ import annotations

import json
import re
import string
import uuid
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
IAM = ROOT / "iam"
PLACEHOLDERS = {"ACCOUNT_ID": "000000000000", "REGION": "us-east-1", "LOG_GROUP_PREFIX": "/eks/test/",
                "FIREHOSE_STREAM": "node-logs", "KINESIS_STREAM": "node-stream", "NODE_ACCOUNT_ID": "444455556666",
                "EXTERNAL_ID": "shipper-test", "CENTRAL_ROLE": "central-logs",
                "OIDC_PROVIDER": "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE",
                "BUCKET": "node-logs", "KEY_PREFIX": "eks/", "KMS_KEY_ID": "1234abcd-12ab-34cd-56ef-1234567890ab"}
# CreateLogGroup with tags also needs TagResource (AWS documents it so); it has no call of its own
IMPLIED = {"logs:TagResource"}


def filled(name: str) -> str:
    return string.Template((IAM / name).read_text()).substitute(PLACEHOLDERS)


def called_operations() -> set[str]:
    source = (ROOT / "shipper" / "sinks" / "cloudwatch" / "client.py").read_text()
    return {f"logs:{name}" for name in re.findall(r'self\.(?:call|_create)\(\s*"(\w+)"', source)}


POLICIES = {"policy.json": {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:TagResource"},
            "policy-reconcile.json": {"logs:GetLogEvents"},
            "policy-retention.json": {"logs:PutRetentionPolicy"},
            "policy-describe.json": {"logs:DescribeLogGroups"}}
UNSCOPED = {"policy-describe.json"}  # DescribeLogGroups takes no group ARN: it lists the account's groups


STREAM_POLICIES = {"policy-firehose.json": ("FirehoseApi", "firehose",
                                            "arn:aws:firehose:us-east-1:000000000000:deliverystream/node-logs"),
                   "policy-kinesis.json": ("KinesisStreamsApi", "kinesis",
                                           "arn:aws:kinesis:us-east-1:000000000000:stream/node-stream")}


def stream_operations(api: str) -> set[str]:
    """The operations the Firehose or Kinesis client class calls (its `operation`)."""
    source = (ROOT / "shipper" / "sinks" / "kinesis" / "service.py").read_text()
    body = source.split(f"class {api}(")[1].split("\nclass ")[0]
    return set(re.findall(r'operation = "(\w+)"', body))


@pytest.mark.parametrize("name", [*POLICIES, *STREAM_POLICIES, "policy-s3.json", "policy-s3-kms.json",
                                  "irsa-trust.json", "pod-identity-trust.json",
                                  "ec2-trust.json", "policy-assume-role.json", "central-account-trust.json"])
def test_every_document_is_valid_json_once_filled_in(name):
    document = json.loads(filled(name))

    assert document["Version"] == "2012-10-17" and document["Statement"]


def test_the_policies_allow_exactly_what_the_sink_calls_only_under_the_prefix_reading_apart():
    statements = {name: json.loads(filled(name))["Statement"] for name in POLICIES}

    actions = {name: {a for s in statement for a in s["Action"]} for name, statement in statements.items()}
    assert called_operations() == {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                                   "logs:PutRetentionPolicy", "logs:GetLogEvents", "logs:DescribeLogGroups"}
    assert actions == POLICIES
    assert set().union(*actions.values()) == called_operations() | IMPLIED
    scoped = [r for name, statement in statements.items() if name not in UNSCOPED for s in statement
              for r in s["Resource"]]
    assert all(":log-group:/eks/test/*" in r for r in scoped)
    assert [r for s in statements["policy-describe.json"] for r in s["Resource"]] == [
        "arn:aws:logs:us-east-1:000000000000:log-group:*"]


@pytest.mark.parametrize("name", STREAM_POLICIES)
def test_the_stream_policies_allow_exactly_what_their_sink_calls_on_the_named_stream(name):
    api, service, arn = STREAM_POLICIES[name]
    (statement,) = json.loads(filled(name))["Statement"]

    assert set(statement["Action"]) == {f"{service}:{operation}" for operation in stream_operations(api)}
    assert stream_operations(api) and statement["Resource"] == [arn]


# S3 authorizes the multipart calls as s3:PutObject, and a PutObject carrying tags needs s3:PutObjectTagging
S3_ACTIONS = {"PutObject": "s3:PutObject", "CreateMultipartUpload": "s3:PutObject", "UploadPart": "s3:PutObject",
              "CompleteMultipartUpload": "s3:PutObject", "AbortMultipartUpload": "s3:AbortMultipartUpload",
              "ListMultipartUploads": "s3:ListBucketMultipartUploads"}


def test_the_s3_policy_allows_what_the_sink_calls_objects_under_the_prefix_only():
    source = (ROOT / "shipper" / "sinks" / "s3" / "service.py").read_text()
    called = set(re.findall(r'self\.call\(\s*"(\w+)"', source))
    by_resource = {tuple(s["Resource"]): set(s["Action"]) for s in json.loads(filled("policy-s3.json"))["Statement"]}

    assert called == set(S3_ACTIONS)
    assert by_resource == {("arn:aws:s3:::node-logs/eks/*",): {"s3:PutObject", "s3:PutObjectTagging",
                                                               "s3:AbortMultipartUpload"},
                           ("arn:aws:s3:::node-logs",): {"s3:ListBucketMultipartUploads"}}
    assert set().union(*by_resource.values()) == set(S3_ACTIONS.values()) | {"s3:PutObjectTagging"}


def test_irsa_trust_names_the_service_account_and_the_sts_audience():
    condition = json.loads(filled("irsa-trust.json"))["Statement"][0]["Condition"]["StringEquals"]
    provider = PLACEHOLDERS["OIDC_PROVIDER"]

    assert condition == {f"{provider}:sub": "system:serviceaccount:shipper:shipper",
                         f"{provider}:aud": "sts.amazonaws.com"}


@pytest.mark.localstack
def test_localstack_iam_accepts_the_policy_and_the_three_roles(localstack, aws_env):
    iam = boto3.client("iam", endpoint_url=localstack, region_name="us-east-1")
    suffix = uuid.uuid4().hex[:8]

    policy = iam.create_policy(PolicyName=f"shipper-{suffix}", PolicyDocument=filled("policy.json"))["Policy"]
    for trust in ("irsa-trust.json", "pod-identity-trust.json", "ec2-trust.json"):
        role = iam.create_role(RoleName=f"shipper-{trust.split('-')[0]}-{suffix}",
                               AssumeRolePolicyDocument=filled(trust))["Role"]
        iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=policy["Arn"])

        attached = iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
        assert [p["PolicyArn"] for p in attached] == [policy["Arn"]]
