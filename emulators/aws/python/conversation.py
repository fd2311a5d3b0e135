"""Drives the AWS emulator with boto3 and asserts the answers real AWS gives.

Usage: python conversation.py http://127.0.0.1:4566

Uses the unmodified boto3 clients (meteringmarketplace, marketplace-entitlement, cloudtrail,
marketplace-agreement) through
their endpoint_url, with dummy credentials; sets up products through the emulator's admin API.
The emulator must be fresh (or reset): the script resets it first.
"""

import datetime as dt
import json
import sys
import time
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:4566"
PRODUCT = "prod-py"
ACCOUNT = "123456789012"
LICENSE = "arn:aws:license-manager::123456789012:license:l-0123456789abcdef0"
NEW_PRODUCT = "prod-py-new"
NEW_LICENSE = "arn:aws:license-manager::123456789012:license:l-00000000000000001"
NEW_LICENSE_2 = "arn:aws:license-manager::123456789012:license:l-00000000000000002"


def admin(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(ENDPOINT + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req) as res:
        text = res.read().decode()
        return json.loads(text) if text else None


def client(name):
    return boto3.client(
        name,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def error_code(fn):
    try:
        fn()
    except ClientError as err:
        return err.response["Error"]["Code"]
    raise AssertionError("expected a ClientError")


def main():
    admin("POST", "/_admin/reset")
    admin("PUT", f"/_admin/products/{PRODUCT}", {"dimensions": ["api_calls", "storage"]})
    admin("POST", "/_admin/subscriptions", {"productCode": PRODUCT, "customerAwsAccountId": ACCOUNT, "licenseArn": LICENSE})
    admin("POST", "/_admin/subscriptions", {"productCode": PRODUCT, "customerIdentifier": "cust-legacy"})

    metering = client("meteringmarketplace")
    entitlement = client("marketplace-entitlement")
    cloudtrail = client("cloudtrail")

    now = dt.datetime.now(dt.timezone.utc)
    hour = now.replace(minute=0, second=0, microsecond=0)

    def record(**over):
        r = {"Timestamp": hour, "Dimension": "api_calls", "Quantity": 5, "CustomerAWSAccountId": ACCOUNT, "LicenseArn": LICENSE}
        r.update(over)
        return {k: v for k, v in r.items() if v is not None}

    # First quantity wins; the identical record is Success with the same id; another quantity is a duplicate.
    first = metering.batch_meter_usage(ProductCode=PRODUCT, UsageRecords=[record()])
    assert first["Results"][0]["Status"] == "Success", first
    rid = first["Results"][0]["MeteringRecordId"]
    again = metering.batch_meter_usage(
        ProductCode=PRODUCT,
        UsageRecords=[record(Timestamp=hour + dt.timedelta(minutes=30)), record(Quantity=6)],
    )
    assert again["Results"][0]["Status"] == "Success" and again["Results"][0]["MeteringRecordId"] == rid, again
    assert again["Results"][1]["Status"] == "DuplicateRecord", again
    assert again["UnprocessedRecords"] == []

    # Unknown customers are not subscribed; legacy CustomerIdentifier works; QuantityAsDecimal is accepted.
    other = metering.batch_meter_usage(
        ProductCode=PRODUCT,
        UsageRecords=[
            record(CustomerAWSAccountId="000000000000", LicenseArn=None),
            record(CustomerAWSAccountId=None, LicenseArn=None, CustomerIdentifier="cust-legacy", Dimension="storage"),
            record(Dimension="storage", Quantity=None, QuantityAsDecimal="2.5"),
        ],
    )
    statuses = [r["Status"] for r in other["Results"]]
    assert statuses == ["CustomerNotSubscribed", "Success", "Success"], other

    # Whole-batch errors.
    assert error_code(lambda: metering.batch_meter_usage(ProductCode=PRODUCT, UsageRecords=[record(Timestamp=now - dt.timedelta(hours=25))])) == "TimestampOutOfBoundsException"
    assert error_code(lambda: metering.batch_meter_usage(ProductCode=PRODUCT, UsageRecords=[record() for _ in range(26)])) == "ValidationException"
    assert error_code(lambda: metering.batch_meter_usage(ProductCode=PRODUCT, UsageRecords=[record(Dimension="gpu")])) == "InvalidUsageDimensionException"
    assert error_code(lambda: metering.batch_meter_usage(ProductCode="nope", UsageRecords=[record()])) == "InvalidProductCodeException"
    assert error_code(lambda: metering.batch_meter_usage(ProductCode=PRODUCT, UsageRecords=[record(CustomerIdentifier="x")])) == "InvalidCustomerIdentifierException"
    bad_alloc = record(UsageAllocations=[{"AllocatedUsageQuantity": 1, "Tags": [{"Key": "team", "Value": "a"}]}])
    assert error_code(lambda: metering.batch_meter_usage(ProductCode=PRODUCT, UsageRecords=[bad_alloc])) == "InvalidUsageAllocationsException"

    billing = admin("GET", f"/_admin/billing?productCode={PRODUCT}")["records"]
    assert sorted((b["dimension"], b["quantity"]) for b in billing) == [("api_calls", "5"), ("storage", "2.5"), ("storage", "5")], billing

    # Entitlements with paging (MaxResults <= 25) and filters.
    for i in range(30):
        admin("POST", "/_admin/entitlements", {"productCode": PRODUCT, "dimension": "api_calls", "customerIdentifier": f"c-{i}", "value": {"integerValue": i}})
    page1 = entitlement.get_entitlements(ProductCode=PRODUCT)
    assert len(page1["Entitlements"]) == 25 and "NextToken" in page1, len(page1["Entitlements"])
    page2 = entitlement.get_entitlements(ProductCode=PRODUCT, NextToken=page1["NextToken"])
    assert len(page2["Entitlements"]) == 5 and "NextToken" not in page2
    paginated = [e for p in entitlement.get_paginator("get_entitlements").paginate(ProductCode=PRODUCT) for e in p["Entitlements"]]
    assert len(paginated) == 30
    one = entitlement.get_entitlements(ProductCode=PRODUCT, Filter={"CUSTOMER_IDENTIFIER": ["c-7"]})["Entitlements"]
    assert [(e["CustomerIdentifier"], e["Value"]["IntegerValue"]) for e in one] == [("c-7", 7)], one

    # CloudTrail: after the delivery delay, newest first, paged, in CloudTrail's JSON shape.
    deadline = time.time() + 30
    events = []
    while time.time() < deadline:
        time.sleep(0.6)  # LookupEvents allows 2 requests a second
        events = cloudtrail.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "BatchMeterUsage"}], MaxResults=50
        )["Events"]
        if len(events) >= 9:
            break
    assert len(events) == 9, len(events)  # 3 successful calls + 6 rejected ones, all logged
    times = [e["EventTime"] for e in events]
    assert times == sorted(times, reverse=True)
    oldest = json.loads(events[-1]["CloudTrailEvent"])
    assert oldest["eventSource"] == "metering-marketplace.amazonaws.com" and oldest["eventName"] == "BatchMeterUsage"
    assert oldest["requestParameters"]["productCode"] == PRODUCT
    assert oldest["requestParameters"]["usageRecords"][0]["customerAWSAccountId"] == ACCOUNT
    assert oldest["responseElements"]["results"][0]["meteringRecordId"] == rid
    failed = [json.loads(e["CloudTrailEvent"]) for e in events if "errorCode" in json.loads(e["CloudTrailEvent"])]
    assert len(failed) == 6
    pages = []
    token = None
    while True:
        time.sleep(0.6)
        kwargs = {"MaxResults": 4}
        if token:
            kwargs["NextToken"] = token
        res = cloudtrail.lookup_events(**kwargs)
        pages.append(res["Events"])
        token = res.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [4, 4, 1], [len(p) for p in pages]
    assert error_code(lambda: cloudtrail.lookup_events(MaxResults=51)) in ("ValidationException", "InvalidMaxResultsException")
    time.sleep(0.6)
    burst = []
    for _ in range(8):
        try:
            cloudtrail.lookup_events(MaxResults=1)
            burst.append("ok")
        except ClientError as err:
            burst.append(err.response["Error"]["Code"])
    assert "ThrottlingException" in burst, burst

    concurrent_agreements(metering, hour)
    print("conversation OK")


def concurrent_agreements(metering, hour):
    """A new-integration buyer: fulfillment token -> ResolveCustomer -> LicenseArn-only batches."""
    admin("PUT", f"/_admin/products/{NEW_PRODUCT}", {"dimensions": ["api_calls"], "licenseArn": True, "newIntegration": True})
    for license_arn in (NEW_LICENSE, NEW_LICENSE_2):
        admin("POST", "/_admin/subscriptions", {"productCode": NEW_PRODUCT, "customerAwsAccountId": ACCOUNT, "licenseArn": license_arn})
    token = admin("POST", "/_admin/registration-tokens", {"licenseArn": NEW_LICENSE})["token"]
    who = metering.resolve_customer(RegistrationToken=token)
    assert who["CustomerAWSAccountId"] == ACCOUNT and who["LicenseArn"] == NEW_LICENSE, who
    assert who["ProductCode"] == NEW_PRODUCT and "CustomerIdentifier" not in who, who
    assert who["Metadata"]["AgreementId"].startswith("agmt-"), who
    assert error_code(lambda: metering.resolve_customer(RegistrationToken="bogus")) == "InvalidTokenException"

    # No ProductCode: the licenses name the product; two licenses of one account are billed apart.
    def lic(license_arn, quantity):
        return {"Timestamp": hour, "Dimension": "api_calls", "QuantityAsDecimal": quantity, "CustomerAWSAccountId": ACCOUNT, "LicenseArn": license_arn}

    out = metering.batch_meter_usage(UsageRecords=[lic(who["LicenseArn"], "1.5"), lic(NEW_LICENSE_2, "2")])
    assert [r["Status"] for r in out["Results"]] == ["Success", "Success"], out
    again = metering.batch_meter_usage(UsageRecords=[lic(NEW_LICENSE, "1.500000"), lic(NEW_LICENSE_2, "2.1")])
    assert [r["Status"] for r in again["Results"]] == ["Success", "DuplicateRecord"], again
    legacy = {"Timestamp": hour, "Dimension": "api_calls", "Quantity": 1, "CustomerIdentifier": "cust-legacy"}
    assert error_code(lambda: metering.batch_meter_usage(ProductCode=NEW_PRODUCT, UsageRecords=[legacy])) == "InvalidCustomerIdentifierException"
    other = lic(NEW_LICENSE, "1")
    other["CustomerAWSAccountId"] = "999999999999"
    assert error_code(lambda: metering.batch_meter_usage(UsageRecords=[other])) == "InvalidLicenseException"
    billed = admin("GET", f"/_admin/billing?productCode={NEW_PRODUCT}")["records"]
    assert sorted((b["licenseArn"], b["quantity"]) for b in billed) == [(NEW_LICENSE, "1.5"), (NEW_LICENSE_2, "2")], billed

    # The Agreement API (JSON 1.0) sees the license's agreement.
    agreements = client("marketplace-agreement")
    found = agreements.search_agreements(
        catalog="AWSMarketplace",
        filters=[{"name": "AgreementType", "values": ["PurchaseAgreement"]}, {"name": "LicenseArn", "values": [NEW_LICENSE]}],
    )["agreementViewSummaries"]
    assert [a["agreementId"] for a in found] == [who["Metadata"]["AgreementId"]], found
    entitlements = agreements.get_agreement_entitlements(agreementId=found[0]["agreementId"])["agreementEntitlements"]
    assert [(e["licenseArn"], e["status"]) for e in entitlements] == [(NEW_LICENSE, "PROVISIONED")], entitlements


if __name__ == "__main__":
    main()
