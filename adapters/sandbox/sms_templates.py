"""The SMS platform's registered templates (短信模板), as a real platform keeps them: a template
code and the Chinese text with ``{param}`` slots, filled with the parameters of each SendSms.

What the sandbox stores for each SMS includes the text as the phone would show it, so that a
developer reads what a resident received (``huiju sandbox sms``).
"""

from __future__ import annotations

from typing import Any

SIGNATURE = "【汇聚社区】"

TEMPLATES: dict[str, str] = {
    "REGISTRATION_CODE": "您的注册验证码为 {code}，{minutes} 分钟内有效。请勿告诉他人。",
    "CASE_RECEIVED": "您的“{item}”申请已收到，办件编号 {case_number}。社区将尽快受理，请留意短信。",
    "CASE_ACCEPTED": "您的“{item}”申请（{case_number}）已受理，将在法定期限内办结。受理通知书：{link}",
    "CASE_REFUSED": "您的申请（{case_number}）不予受理，理由：{reason}。不予受理通知书：{link}",
    "SUPPLEMENT_REQUESTED": (
        "您的申请（{case_number}）需要补正材料：{missing_materials}。请登录居民门户一次性补正。补正材料通知书：{link}"
    ),
    "CASE_APPROVED": "您的“{item}”申请（{case_number}）已办结，准予。决定书：{link}",
    "CASE_DENIED": "您的申请（{case_number}）未获批准，理由：{reason}。决定书：{link}",
    "SUBSIDY_APPROVED": "您的居家养老服务补贴申请（{case_number}）已核准：{tier}，每月 {amount} 元。决定书：{link}",
    "SUBSIDY_DENIED": "您的居家养老服务补贴申请（{case_number}）未获核准，理由：{reason}。决定书：{link}",
    "SUBSIDY_INELIGIBLE": "您的居家养老服务补贴申请（{case_number}）不符合申请条件。详情请咨询社区服务站。",
    "IDENTITY_MISMATCH": "您的申请（{case_number}）身份核验未通过：{reason}。请核对姓名和身份证号。",
    "LIMIT_REMINDER": "【时限提醒】办件 {case_number}（{item}）将于 {due} 到期，请及时办理。",
    "LIMIT_ESCALATED": "【超期督办】办件 {case_number}（{item}）已超过承诺时限（{due}），已转街道督办。",
    "REQUEST_RECEIVED": "您的诉求已收到，编号 {case_number}，我们将尽快答复。",
    "REQUEST_ANSWERED": "您的诉求（{case_number}）已答复：{answer}",
    # Community service orders (社区服务订单): to the orderer and the parent, and to the provider.
    "ORDER_PLACED": "您预约的“{service}”（订单 {order_number}，{time}）已下单，正在为您派单。",
    "ORDER_PAYMENT_DUE": "您预约的“{service}”（订单 {order_number}，{time}）需另付 {amount}，请点击链接支付：{link}",
    "ORDER_OFFERED_TO_PROVIDER": "您预约的“{service}”（订单 {order_number}，{time}）正派给{provider}，等待其接单。",
    "ORDER_OFFERED": "新订单 {order_number}：{service}，{time}。请在 {within} 分钟内登录平台接单或拒单。",
    "ORDER_ASSIGNED_TO_PROVIDER": (
        "平台已将订单 {order_number} 派给{provider}：{service}，{time}。请登录平台查看并按时上门。"
    ),
    "ORDER_ACCEPTED": (
        "您预约的“{service}”（订单 {order_number}，{time}）已由{provider}接单，联系电话 {provider_phone}。"
    ),
    "ORDER_ON_THE_WAY": "您预约的“{service}”（订单 {order_number}，{time}）服务人员已上门。",
    "ORDER_DONE": "您预约的“{service}”（订单 {order_number}）已服务完成，请登录居民门户确认并评价。",
    "ORDER_CONFIRMED": "您预约的“{service}”（订单 {order_number}）已确认完成，感谢您的使用。",
    "ORDER_CANCELLED": (
        "您预约的“{service}”（订单 {order_number}，{time}）已取消。已用的服务券已退回，已付款项将原路退还。"
    ),
}


class _Slots(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""  # a slot the call did not fill stays empty (an old message without a link)


def text_of(template: str, params: dict[str, Any]) -> str:
    """The SMS as the phone shows it; an unknown template shows its parameters as they are."""
    pattern = TEMPLATES.get(template)
    if pattern is None:
        return SIGNATURE + "；".join(f"{k}：{v}" for k, v in params.items())
    text = pattern.format_map(_Slots(params))
    for empty in ("。决定书：", "。不予受理通知书：", "。补正材料通知书：", "补正材料通知书："):
        if text.endswith(empty):
            text = text[: -len(empty)] + "。"
    return SIGNATURE + text
