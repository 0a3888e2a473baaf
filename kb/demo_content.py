"""Demo knowledge base for Northwind Apparel, loaded by `kb seed-demo`."""

from __future__ import annotations

TEAMS = [
    {
        "name": "Billing experts",
        "description": "Own payment, refund, invoice and dispute policies. Verify every card about money leaving or entering a customer's account.",
    },
    {
        "name": "Logistics experts",
        "description": "Own shipping, delivery, returns and the holiday peak plan. Work with the Reno and Columbus warehouses and our carriers.",
    },
    {
        "name": "Q4 2026 seasonal",
        "description": "This season's hires: they join for the peak and work through the Day 1–3 path.",
    },
    {
        "name": "Support leads",
        "description": "Run the live-chat floor. Own order handling, tone of voice and onboarding for permanent and seasonal agents.",
    },
]

USERS = [
    {
        "key": "admin",
        "email": "admin@example.com",
        "name": "Alex Morgan",
        "role": "admin",
        "password": "admin-demo",
        "teams": ["Support leads"],
        "lead_of": ["Support leads"],
    },
    {
        "key": "bianca",
        "email": "bianca@example.com",
        "name": "Bianca Ruiz",
        "role": "expert",
        "password": "expert-demo",
        "teams": ["Billing experts"],
        "lead_of": ["Billing experts"],
    },
    {
        "key": "leo",
        "email": "leo@example.com",
        "name": "Leo Fischer",
        "role": "expert",
        "password": "expert-demo",
        "teams": ["Logistics experts", "Support leads"],
        "lead_of": ["Logistics experts"],
    },
    {
        "key": "priya",
        "email": "priya@example.com",
        "name": "Priya Shah",
        "role": "expert",
        "password": "expert-demo",
        "teams": ["Support leads", "Billing experts", "Q4 2026 seasonal"],
        "lead_of": ["Q4 2026 seasonal"],
    },
    {
        "key": "agent",
        "email": "agent@example.com",
        "name": "Jordan Lee",
        "role": "agent",
        "password": "agent-demo",
        "teams": [],
        "lead_of": [],
    },
    {
        "key": "sam",
        "email": "sam@example.com",
        "name": "Sam Carter",
        "role": "agent",
        "password": "agent-demo",
        "teams": [],
        "lead_of": [],
    },
    {
        "key": "seasonal",
        "email": "seasonal@example.com",
        "name": "Riley Novak",
        "role": "agent",
        "password": "agent-demo",
        "teams": ["Q4 2026 seasonal"],
        "lead_of": [],
        "expires_in_days": 60,
    },
    {
        "key": "noah",
        "email": "noah@example.com",
        "name": "Noah Kim",
        "role": "agent",
        "password": "agent-demo",
        "teams": ["Q4 2026 seasonal"],
        "lead_of": [],
        "expires_in_days": 60,
    },
    {
        "key": "mia",
        "email": "mia@example.com",
        "name": "Mia Rossi",
        "role": "agent",
        "password": "agent-demo",
        "teams": ["Q4 2026 seasonal"],
        "lead_of": [],
        "expires_in_days": 60,
    },
    {
        "key": "omar",
        "email": "omar@example.com",
        "name": "Omar Haddad",
        "role": "agent",
        "password": "agent-demo",
        "teams": ["Q4 2026 seasonal"],
        "lead_of": [],
        "expires_in_days": 60,
    },
    {
        "key": "ella",
        "email": "ella@example.com",
        "name": "Ella Brooks",
        "role": "agent",
        "password": "agent-demo",
        "teams": ["Q4 2026 seasonal"],
        "lead_of": [],
        "expires_in_days": 60,
    },
    {
        "key": "former",
        "email": "former@example.com",
        "name": "Dana Whitfield",
        "role": "expert",
        "password": "expert-demo",
        "teams": ["Logistics experts"],
        "lead_of": [],
        "active": False,
    },
]

COLLECTIONS = [
    {
        "name": "Orders & cancellations",
        "slug": "orders",
        "description": "Placing, changing and cancelling orders, order statuses and promo codes.",
        "default_interval_days": 90,
        "team": "Support leads",
        "public": True,
    },
    {
        "name": "Shipping & delivery",
        "slug": "shipping",
        "description": "Delivery times and costs, express and international shipping, tracking, and lost or damaged parcels.",
        "default_interval_days": 90,
        "team": "Logistics experts",
        "public": True,
    },
    {
        "name": "Returns & exchanges",
        "slug": "returns",
        "description": "Return windows, labels, exchanges, refund timing and items that can't be returned.",
        "default_interval_days": 90,
        "team": "Logistics experts",
        "public": True,
    },
    {
        "name": "Payments & billing",
        "slug": "billing",
        "description": "Payment methods, declined cards, double charges, gift cards, invoices, Klarna and price adjustments.",
        "default_interval_days": 180,
        "team": "Billing experts",
        "public": True,
    },
    {
        "name": "Holiday season",
        "slug": "holiday",
        "description": "Christmas order cut-offs, extended returns, holiday support hours, gift wrapping and gift receipts. Reviewed monthly during Q4.",
        "default_interval_days": 30,
        "team": "Logistics experts",
        "public": True,
    },
    {
        "name": "Tone of voice & writing",
        "slug": "tone",
        "description": "How Northwind sounds in chat: answer first, plain words, saying no kindly and closing a chat.",
        "default_interval_days": 180,
        "team": "Support leads",
        "public": False,
    },
    {
        "name": "Onboarding for seasonal hires",
        "slug": "onboarding",
        "description": "Everything a new or seasonal agent needs in their first week: tools, kb, escalation and chat etiquette.",
        "default_interval_days": 90,
        "team": "Support leads",
        "public": False,
    },
]

CARDS = [
    # ------------------------------------------------------------------
    # Orders & cancellations
    # ------------------------------------------------------------------
    {
        "key": "cancel-before-shipment",
        "collection": "orders",
        "title": "Can a customer cancel an order before it ships?",
        "answer": """\
**Yes, as long as the order hasn't started shipping.**

- **Status "Placed":** cancel it yourself under **Account → Orders → Cancel order**. You'll get a confirmation email, and the full amount is released to your original payment method.
- **Status "Preparing for shipment":** the cancel button disappears. Message us and we'll ask the warehouse to stop the order. This usually works, but we can't guarantee it.
- **Already shipped:** we can no longer cancel. Refuse the delivery, or return it within 30 days of delivery. See [return windows](/cards/by-key/return-window).

Refunds for cancelled orders show up within 3–5 business days.""",
        "internal_notes": """\
Warehouse cancellation: Admin tool → Orders → open the order → **Request cancellation**. The warehouse answers within 2 business hours and the customer gets an automatic email either way. Orders usually move to *Preparing for shipment* about 1 hour after being placed. If the request fails and the customer is unhappy, offer the [goodwill shipping code](/cards/by-key/goodwill-shipping-code).""",
        "tags": ["cancellation", "orders"],
        "owner": "leo",
        "verifier_team": "Support leads",
        "interval_days": 90,
        "state": "verified",
    },
    {
        "key": "goodwill-shipping-code",
        "collection": "orders",
        "title": "Can I get free shipping on my next order after cancelling?",
        "answer": """\
Yes, we'd like to make up for the cancelled order. Here is a code for **free standard shipping** on your next order:

**{goodwill_code}**

- Enter it at checkout in the *Promo code* field.
- It's valid for **30 days** and works on one order of any amount.
- It can't be combined with another promo code.

If you've already placed a new order, send me the order number and I'll refund the shipping fee instead.""",
        "internal_notes": """\
Offer only when an order is cancelled (or we couldn't cancel it) and the customer is unhappy. **One code per customer per 90 days**: check the customer's Goodwill history in Admin tool → Customers first. Permanent agents may issue it; seasonal agents ask in #support-leads. Generate it on the same customer page: Goodwill → **Free shipping code**. Format `NWSHIP-` plus 6 letters/digits, e.g. NWSHIP-7K2M9Q. See [cancelling](/cards/by-key/cancel-before-shipment).""",
        "tags": ["goodwill", "cancellation", "promo-code"],
        "owner": "priya",
        "verifier_team": "Support leads",
        "interval_days": 60,
        "state": "verified",
        "public": False,
    },
    {
        "key": "order-change-items",
        "collection": "orders",
        "title": "Can I add or change items in an order I've already placed?",
        "answer": """\
We can't add items or swap sizes in an order once it's placed. The warehouse system locks the contents so it can pack quickly.

What you can do instead:

- **Before "Preparing for shipment":** cancel the order in your account and place a new one with the right items. See [cancelling an order](/cards/by-key/cancel-before-shipment).
- **After that:** keep the order and use a free [exchange](/cards/by-key/exchanges) for a different size or color once it arrives.

A second order ships separately with its own shipping fee, unless it's over $75.""",
        "internal_notes": """\
Don't promise to merge two orders; the warehouse can't combine them. If the second order is placed within 24 hours of the first and is under $75, you may refund its shipping fee (Admin tool → Orders → Refund shipping).""",
        "tags": ["orders", "changes"],
        "owner": "leo",
        "verifier_team": "Support leads",
        "interval_days": 90,
        "state": "due_soon",
    },
    {
        "key": "order-status-meaning",
        "collection": "orders",
        "title": "What does my order status mean?",
        "answer": """\
Here's what each status under **Account → Orders** means:

- **Placed**: we've received your order. You can still cancel it yourself.
- **Preparing for shipment**: the warehouse is picking and packing. Changes and self-service cancellation are no longer possible.
- **Shipped**: the parcel is with the carrier, and we've emailed you a tracking link.
- **Delivered**: the carrier has marked it delivered.
- **On hold**: we need to check something, usually the payment. We'll email you within 24 hours.

Most orders ship within 1 business day (up to 2 during the holiday peak).""",
        "internal_notes": """\
Orders move to *Preparing for shipment* about 1 hour after being placed (batches run hourly, 6 am–10 pm ET). *On hold* is almost always a payment review: see [payment holds](/cards/by-key/payment-fraud-review). Never tell the customer it's a fraud check.""",
        "tags": ["orders", "status"],
        "owner": "priya",
        "verifier_team": "Support leads",
        "interval_days": 90,
        "state": "verified",
    },
    {
        "key": "order-confirmation-missing",
        "collection": "orders",
        "title": "I didn't get an order confirmation email. Did my order go through?",
        "answer": """\
If you saw a page saying **"Thank you, your order number is …"**, your order went through. Confirmation emails usually arrive within 15 minutes.

If yours hasn't arrived:

1. Check your spam or promotions folder for mail from orders@example.com.
2. Sign in and look under **Account → Orders**. Every placed order is listed there.
3. Checked out as a guest? Use [order lookup](https://www.example.com/orders/lookup) with your email and ZIP or postal code.

If there's no order anywhere, the payment didn't complete and you haven't been charged. Any pending amount drops off within 3–5 business days.""",
        "internal_notes": """\
Still confirming with IT whether we can resend confirmation emails from the admin tool. Until then: search Admin tool → Customers by email, and if the order exists, give the customer the order number in chat.""",
        "tags": ["orders", "email"],
        "owner": "admin",
        "verifier_team": "Support leads",
        "interval_days": 90,
        "state": "draft",
    },
    {
        "key": "promo-code-missed",
        "collection": "orders",
        "title": "I forgot to enter my promo code. Can you still apply it?",
        "answer": """\
**Yes**, if the code was valid when you placed the order and you contact us within **14 days** of the order date. We'll refund the discount to your original payment method, and it shows up within 3–5 business days.

Please note:

- There's one promo code per order, so we can't add a second code to an order that already used one.
- Expired codes, codes issued to a different email address, and employee codes can't be applied afterwards.
- Free-shipping codes only work on future orders.""",
        "internal_notes": """\
Admin tool → Orders → open the order → Adjust → **Apply code retroactively**. Orders over $500 need approval from a Billing expert.""",
        "tags": ["promo-code", "orders", "discounts"],
        "owner": "priya",
        "verifier_team": "Support leads",
        "interval_days": 90,
        "state": "lapsed",
    },
    {
        "key": "split-shipment",
        "collection": "orders",
        "title": "Why did I only receive part of my order?",
        "answer": """\
Some orders ship in **more than one parcel**, for example when items come from different warehouses. You only pay shipping once.

Your shipping confirmation email lists which items are in each parcel, each with its own tracking link. You can also see this under **Account → Orders → Track**.

If an item isn't in any shipment after **3 business days**, message us with your order number and we'll check it for you.""",
        "internal_notes": """\
Warehouses: Reno, NV (West) and Columbus, OH (East). Check Admin tool → Orders → Shipments. If an item shows *Unallocated* for more than 3 business days, it's out of stock: refund it and tell the customer. Don't wait for a restock.""",
        "tags": ["orders", "shipping", "split-shipment"],
        "owner": "leo",
        "verifier_team": "Logistics experts",
        "interval_days": 90,
        "state": "verified",
    },
    # ------------------------------------------------------------------
    # Shipping & delivery
    # ------------------------------------------------------------------
    {
        "key": "shipping-times-costs",
        "collection": "shipping",
        "title": "How long does shipping take and how much does it cost?",
        "answer": """\
- **Standard (US):** 3–5 business days, **$5.95**, free on orders over **$50**
- **Express (US):** 1–2 business days, **$14.95**. Order by 1 pm ET, Monday–Friday, for same-day dispatch.
- **International:** 7–14 business days, **$19.95**, free on orders over $150

Orders leave our warehouse within 1 business day. Delivery times count from dispatch and don't include weekends or public holidays.

More details: [express delivery](/cards/by-key/express-shipping) and [international shipping](/cards/by-key/international-shipping).""",
        "internal_notes": """\
If a customer quotes an old free-shipping threshold from an email or ad, refund the shipping fee once as goodwill.""",
        "tags": ["shipping", "delivery-times", "costs"],
        "owner": "leo",
        "verifier_team": "Logistics experts",
        "interval_days": 90,
        "state": "edited",
        "edit": {
            "answer": """\
- **Standard (US):** 3–5 business days, **$5.95**, free on orders over **$75**
- **Express (US):** 1–2 business days, **$14.95**. Order by 1 pm ET, Monday–Friday, for same-day dispatch.
- **International:** 7–14 business days, **$19.95**, free on orders over $150

Orders leave our warehouse within 1 business day (up to 2 between November 24 and December 22). Delivery times count from dispatch and don't include weekends or public holidays.

More details: [express delivery](/cards/by-key/express-shipping) and [international shipping](/cards/by-key/international-shipping).""",
            "summary": "Free standard shipping threshold raised from $50 to $75 on October 1 (Finance pricing memo); added the holiday dispatch time.",
        },
    },
    {
        "key": "express-shipping",
        "collection": "shipping",
        "title": "Do you offer express delivery?",
        "answer": """\
Yes. **Express shipping** costs **$14.95** and arrives in **1–2 business days** within the contiguous US.

- Order by **1 pm ET, Monday–Friday**, and it leaves the warehouse the same day.
- Orders placed after 1 pm or on weekends ship the next business day.
- Express isn't available to PO boxes, APO/FPO addresses, Alaska or Hawaii.

If an express order arrives late, we'll refund the express fee. Just message us with your order number.""",
        "internal_notes": """\
Check the carrier scan history first. Weather delays flagged by the carrier still qualify. Admin tool → Orders → Refund shipping → reason *Express late*. Don't refund if the customer entered a wrong address.""",
        "tags": ["shipping", "express"],
        "owner": "leo",
        "verifier_team": "Logistics experts",
        "interval_days": 90,
        "state": "verified",
    },
    {
        "key": "international-shipping",
        "collection": "shipping",
        "title": "Do you ship outside the US?",
        "answer": """\
Yes, we ship to **Canada, the UK, the EU, Australia and New Zealand**.

- **Delivery:** 7–14 business days after dispatch
- **Cost:** $19.95, free on orders over $150
- **Duties and taxes:** included in the price at checkout, so there's nothing extra to pay on delivery

Express isn't available for international orders. Returns from outside the US work a little differently. See [international returns](/cards/by-key/international-returns).""",
        "internal_notes": """\
Carrier is DHL eCommerce; tracking switches to the local postal service after customs. If a customer is asked to pay duties on delivery, they should refuse the charge, or we refund what they paid. Escalate to Logistics experts with a photo of the carrier notice.""",
        "tags": ["shipping", "international", "duties"],
        "owner": "former",
        "verifier_team": "Logistics experts",
        "interval_days": 90,
        "state": "lapsed",
    },
    {
        "key": "order-tracking",
        "collection": "shipping",
        "title": "How can I track my order?",
        "answer": """\
As soon as your order ships, we email you a **tracking link** from orders@example.com. You can also find it any time under **Account → Orders → Track**, or with [order lookup](https://www.example.com/orders/lookup) if you checked out as a guest.

It can take up to **24 hours** after that email for the first scan to appear. That's normal. If nothing has changed for 5 business days, let us know and we'll look into it.""",
        "internal_notes": """\
Carriers: UPS for express and most standard orders, USPS for PO boxes, DHL eCommerce for international.""",
        "tags": ["tracking", "shipping"],
        "owner": "leo",
        "verifier_team": "Logistics experts",
        "interval_days": 90,
        "state": "verified",
    },
    {
        "key": "lost-parcel",
        "collection": "shipping",
        "title": "My tracking hasn't updated in days. Is my parcel lost?",
        "answer": """\
We treat a parcel as delayed when its tracking hasn't changed for **5 business days** (US) or **10 business days** (international).

Here's what happens next:

1. We open a trace with the carrier today.
2. The carrier usually replies within **3 business days**.
3. If the parcel isn't found, we send a **free replacement** by express or give you a **full refund**, whichever you prefer.

You don't need to do anything else. We'll email you as soon as we hear back.""",
        "internal_notes": """\
Admin tool → Orders → Shipments → **Open carrier trace**. Before the 5/10-day mark, reassure the customer and ask them to check back. Replacements for out-of-stock items become refunds. Orders over $300: tag the trace *high value* so Logistics experts follow up.""",
        "tags": ["lost-parcel", "tracking", "shipping"],
        "owner": "leo",
        "verifier_team": "Logistics experts",
        "interval_days": 90,
        "state": "due_soon",
    },
    {
        "key": "damaged-parcel",
        "collection": "shipping",
        "title": "My order arrived damaged or with the wrong item. What now?",
        "answer": """\
Sorry about that, we'll put it right. Send us **photos of the item and of the parcel label** within **14 days of delivery**, then choose:

- a **free replacement**, shipped by express at no cost, or
- a **full refund**, including the original shipping fee.

You don't need to send a damaged item back unless we ask. If we sent the wrong item, we'll email you a free return label for it.""",
        "internal_notes": """\
Log photos under Admin tool → Orders → Issues → *Damaged in transit* or *Wrong item*. Three or more damage reports from the same customer within 6 months: escalate to Logistics experts before refunding.""",
        "tags": ["damaged", "wrong-item", "shipping"],
        "owner": "leo",
        "verifier_team": "Logistics experts",
        "interval_days": 90,
        "state": "verified",
    },
    {
        "key": "address-change",
        "collection": "shipping",
        "title": "Can I change my delivery address after ordering?",
        "answer": """\
**Yes, until the order reaches "Preparing for shipment"**, usually about an hour after you order. Message us with your order number and the new address and we'll update it.

After that the parcel is already being packed, so we can't change it. Once it has shipped, you may be able to redirect it with the carrier from the tracking link (a carrier fee may apply).

If the parcel comes back to us undelivered, we refund you in full once it arrives.""",
        "internal_notes": """\
Admin tool → Orders → **Edit shipping address**. Never change the address to a different country: cancel and ask the customer to reorder. Sales tax is recalculated automatically if the state changes.""",
        "tags": ["address", "shipping", "orders"],
        "owner": "leo",
        "verifier_team": "Logistics experts",
        "interval_days": 90,
        "state": "verified",
    },
    {
        "key": "delivered-not-received",
        "collection": "shipping",
        "title": "Tracking says delivered, but I don't have my parcel",
        "answer": """\
Sorry, that's worrying. Carriers sometimes mark parcels as delivered a little early, so please:

1. Wait until the end of the next business day.
2. Check around your door, your mailroom and with neighbors, and look for a delivery photo in the tracking.
3. If it still hasn't turned up **48 hours** after the delivered scan, message us with your order number.

We'll then open a claim with the carrier and send you a replacement or a refund within **7 business days**.""",
        "internal_notes": """\
Logistics is still deciding whether claims over $250 need a signed statement from the customer. Until this card is verified, ask a Logistics expert before promising anything on orders over $250.""",
        "tags": ["lost-parcel", "delivery"],
        "owner": "leo",
        "verifier_team": "Logistics experts",
        "interval_days": 90,
        "state": "draft",
    },
    # ------------------------------------------------------------------
    # Returns & exchanges
    # ------------------------------------------------------------------
    {
        "key": "return-window",
        "collection": "returns",
        "title": "How long do I have to return something?",
        "answer": """\
You have **30 days from delivery** to return items that are unworn, unwashed and still have their tags.

- Returns are **free** for US orders. Start one in our [returns portal](https://www.example.com/returns).
- **Holiday purchases** made from **November 1 to December 24** can be returned until **January 31**. See [holiday returns](/cards/by-key/holiday-extended-returns).
- Some items can't be returned. See [final-sale items](/cards/by-key/final-sale-items).

Once your return reaches our warehouse, we process the refund within 3 business days.""",
        "internal_notes": """\
The portal counts the deadline from the carrier's delivery scan. For returns up to 7 days late you may approve one exception per customer per year: Admin tool → Returns → **Override window**. Beyond 7 days, ask a Logistics expert.""",
        "tags": ["returns", "return-window"],
        "owner": "leo",
        "verifier_team": "Logistics experts",
        "interval_days": 90,
        "state": "verified",
    },
    {
        "key": "return-label",
        "collection": "returns",
        "title": "How do I get a return label?",
        "answer": """\
Start your return in the [returns portal](https://www.example.com/returns) with your order number and email address. Pick the items and a reason, and you'll get a **free prepaid UPS label** for US orders.

- **Print it** and stick it on the parcel, or
- **Show the QR code** at any UPS Store or UPS Access Point and they'll print it for you.

Drop the parcel off within **7 days** of creating the label. After that it expires and you'll need a new one, which is also free.""",
        "internal_notes": """\
The portal creates one label per order. For a second label, or to replace an expired one, use Admin tool → Returns → **New label**. Exchanges use the same label flow.""",
        "tags": ["returns", "return-label"],
        "owner": "leo",
        "verifier_team": "Logistics experts",
        "interval_days": 90,
        "state": "verified",
    },
    {
        "key": "exchanges",
        "collection": "returns",
        "title": "Can I exchange an item for a different size or color?",
        "answer": """\
Yes. Exchanges for a different **size or color of the same item** are free for US orders.

1. Choose **Exchange** in the [returns portal](https://www.example.com/returns) and pick the new size or color.
2. Drop off the parcel with the free label.
3. We ship the new item as soon as the carrier scans your return. You don't have to wait for it to reach us.

If the new size is sold out, we refund you instead. To swap for a different item, return the original and place a new order.""",
        "internal_notes": """\
One exchange per item. There's no price difference because it's the same product. The warehouse system can't swap between different products, even at the same price.""",
        "tags": ["exchanges", "returns", "sizing"],
        "owner": "leo",
        "verifier_team": "Logistics experts",
        "interval_days": 90,
        "state": "verified",
    },
    {
        "key": "refund-timing",
        "collection": "returns",
        "title": "When will I get my refund?",
        "answer": """\
We process your refund within **5 business days** after your return arrives at our warehouse, and email you when it's done. After that it depends on how you paid:

- **Card:** 5–10 business days for your bank to show it
- **PayPal:** 1–3 business days
- **Klarna:** your plan updates within 3 business days
- **Gift card:** straight away

Returns usually take 5–7 days to reach us. You can track yours in the [returns portal](https://www.example.com/returns). Need a label first? See [return labels](/cards/by-key/return-label).""",
        "internal_notes": """\
Refund still missing after the bank's window? Give the customer the refund's ARN from Admin tool → Payments → Refund details. Their bank can trace the refund with that number.""",
        "tags": ["refunds", "returns"],
        "owner": "leo",
        "verifier_team": "Logistics experts",
        "interval_days": 90,
        "state": "edited",
        "edit": {
            "answer": """\
We process your refund within **3 business days** after your return arrives at our warehouse, and email you when it's done. After that it depends on how you paid:

- **Card:** 5–10 business days for your bank to show it
- **PayPal:** 1–3 business days
- **Klarna:** your plan updates within 3 business days
- **Gift card:** straight away

Returns usually take 5–7 days to reach us. You can track yours in the [returns portal](https://www.example.com/returns). Need a label first? See [return labels](/cards/by-key/return-label).""",
            "summary": "Warehouse now processes returns within 3 business days instead of 5, after adding a second returns shift in Reno.",
        },
    },
    {
        "key": "final-sale-items",
        "collection": "returns",
        "title": "Which items can't be returned?",
        "answer": """\
These items are **final sale** and can't be returned or exchanged unless they're faulty:

- Items marked **Final sale** on the product page (usually clearance at 50% off or more)
- Underwear, and swimwear with the hygiene liner removed
- Earrings
- Gift cards
- Personalized or monogrammed items

If a final-sale item arrives damaged or we sent the wrong one, we'll still replace it or refund you. See [damaged or wrong items](/cards/by-key/damaged-parcel).""",
        "internal_notes": """\
The returns portal greys out final-sale items automatically. No change-of-mind exceptions, including during the holidays. If the customer says the item wasn't marked final sale when they bought it, ask a Logistics expert.""",
        "tags": ["final-sale", "returns"],
        "owner": "leo",
        "verifier_team": "Logistics experts",
        "interval_days": 90,
        "state": "due_soon",
    },
    {
        "key": "international-returns",
        "collection": "returns",
        "title": "How do I return an order that was shipped outside the US?",
        "answer": """\
You have the same **30 days from delivery** (or until **January 31** for holiday purchases). Start in the [returns portal](https://www.example.com/returns) and choose **I'll arrange my own shipping**.

- Send the parcel to **Northwind Apparel Returns, 2100 Commerce Way, Reno, NV 89502, USA**.
- Use a tracked service and mark the parcel *"Returned goods"* so we aren't charged import duties.
- Return shipping costs aren't refunded, unless the item was faulty or wrong.

We refund the item price, including the duties and taxes you paid at checkout.""",
        "internal_notes": """\
Faulty or wrong items: refund the customer's return shipping up to $30 against a receipt. Canada: we can email a prepaid Canada Post label instead (Admin tool → Returns → International label).""",
        "tags": ["returns", "international"],
        "owner": "former",
        "verifier_team": "Logistics experts",
        "interval_days": 90,
        "state": "verified",
    },
    {
        "key": "returnless-refund",
        "collection": "returns",
        "title": "Can I keep the item and still get a refund?",
        "answer": """\
Usually we need the item back before we refund it. In a few cases we can refund you **without a return**, for example when a low-priced item arrived damaged or we sent the wrong one, and sending it back would cost more than it's worth.

I've checked order {order_number} and this applies to you: you'll receive a **full refund** for the item within 3–5 business days, and there's no need to send it back. Feel free to donate or recycle it.""",
        "internal_notes": """\
Only for damaged or wrong items priced under $25, max. 2 per customer per 12 months. Never offer it for change-of-mind returns. Admin tool → Returns → **Refund without return** and pick the reason code.""",
        "tags": ["refunds", "returns", "goodwill"],
        "owner": "leo",
        "verifier_team": "Logistics experts",
        "interval_days": 60,
        "state": "verified",
        "public": False,
    },
    {
        "key": "worn-or-washed",
        "collection": "returns",
        "title": "Can I return something I've worn or washed?",
        "answer": """\
We can only accept items that are **unworn, unwashed and still have their tags**, so that we can sell them again. Trying something on at home is fine.

If an item shrank, faded or came apart after normal wear, or after washing it as the care label says, that's a **quality issue**. Message us within **90 days of delivery** with photos, and we'll replace it or refund you.

Returns that arrive worn or washed are sent back to you at no cost.""",
        "internal_notes": """\
The warehouse marks these returns *Rejected – condition*. Log quality claims within 90 days under Admin tool → Orders → Issues → *Quality*. After 90 days, a Logistics expert decides.""",
        "tags": ["returns", "quality"],
        "owner": "leo",
        "verifier_team": "Logistics experts",
        "interval_days": 90,
        "state": "lapsed",
    },
    # ------------------------------------------------------------------
    # Payments & billing
    # ------------------------------------------------------------------
    {
        "key": "payment-methods",
        "collection": "billing",
        "title": "Which payment methods do you accept?",
        "answer": """\
We accept:

- **Cards:** Visa, Mastercard, American Express and Discover
- **PayPal**, **Apple Pay** and **Google Pay**
- **Klarna**, to pay in 4 interest-free installments. See [paying in installments](/cards/by-key/klarna-installments).
- **Northwind gift cards**, on their own or together with another method

We don't accept cash on delivery, checks or cryptocurrency. We reserve the amount when you place your order and take the payment when it ships.""",
        "internal_notes": """\
Prepaid and virtual cards work if they have a registered billing address. Klarna isn't available for international orders.""",
        "tags": ["payments", "payment-methods"],
        "owner": "bianca",
        "verifier_team": "Billing experts",
        "interval_days": 180,
        "state": "verified",
    },
    {
        "key": "declined-card",
        "collection": "billing",
        "title": "Why was my card declined?",
        "answer": """\
Your bank declined the payment, so the order wasn't placed. We can't see the bank's reason, but the most common ones are:

- The billing address doesn't match the one your bank has on file
- A typo in the card number, expiry date or security code
- Your bank's fraud protection blocked an online or international payment
- Not enough available credit

Please check the details and try again, or use another method such as PayPal. If it keeps failing, your bank can tell you exactly why. Any pending amount from the failed attempt drops off within 3–5 business days.""",
        "internal_notes": """\
The payment console shows a decline code. Don't read it out, because some codes (e.g. *suspected fraud*) upset customers. After 3 failed attempts the card is blocked on our side for 24 hours.""",
        "tags": ["payments", "declined"],
        "owner": "bianca",
        "verifier_team": "Billing experts",
        "interval_days": 180,
        "state": "verified",
    },
    {
        "key": "double-charge",
        "collection": "billing",
        "title": "I was charged twice for one order. Can you fix it?",
        "answer": """\
Thanks for flagging this. Usually what looks like a double charge is a **temporary hold** plus the **final payment**. We reserve the amount when you order and take the payment when it ships. The hold drops off by itself within **3–5 business days**, depending on your bank.

If both amounts are still on your statement after 5 business days, send us a screenshot and we'll refund the duplicate straight away.""",
        "internal_notes": """\
Admin tool → Payments → search the order number. One *Authorized* plus one *Captured* is normal. Two *Captured* entries is a real duplicate: refund the second capture and tag the chat *duplicate-capture* so Billing experts can track the gateway issue. Escalate to Billing experts if the amounts differ.""",
        "tags": ["payments", "double-charge", "refunds"],
        "owner": "bianca",
        "verifier_team": "Billing experts",
        "interval_days": 90,
        "state": "due_soon",
    },
    {
        "key": "gift-card-refunds",
        "collection": "billing",
        "title": "I paid with a gift card. How will I get my refund?",
        "answer": """\
Refunds always go back to the payment method you used:

- The gift card part goes back onto the **same gift card** as soon as we process your return.
- If you paid partly by card or PayPal, that part goes back there.

Northwind gift cards **never expire**, so you can use the balance any time. Lost the card? Send us the gift card number or the order number and we'll move the balance to a new **e-gift card** by email. We can't pay out a gift card balance to a bank account.""",
        "internal_notes": """\
Exception: where state law requires cashing out small balances (e.g. California, under $10), Billing experts handle it. Escalate; don't refund it yourself.""",
        "tags": ["gift-cards", "refunds"],
        "owner": "bianca",
        "verifier_team": "Billing experts",
        "interval_days": 180,
        "state": "verified",
    },
    {
        "key": "vat-invoice",
        "collection": "billing",
        "title": "Can I get an invoice with VAT or my company details?",
        "answer": """\
Yes. Every order has a downloadable invoice under **Account → Orders → Invoice**.

- **UK and EU orders:** the invoice shows the VAT included in your price, so you don't need to ask for a separate one.
- **Company name or VAT ID:** message us within **30 days** of the order with the company name, address and VAT number, and we'll email a corrected invoice within 2 business days.
- **US orders:** the invoice shows sales tax. We can't issue tax-exempt invoices after the order is placed.""",
        "internal_notes": """\
Admin tool → Orders → Invoice → **Reissue**. We don't support reverse charge (0% VAT) for EU businesses, so don't promise a VAT refund. Forward tax-exemption certificates to billing@example.com.""",
        "tags": ["invoices", "vat", "tax"],
        "owner": "bianca",
        "verifier_team": "Billing experts",
        "interval_days": 180,
        "state": "lapsed",
    },
    {
        "key": "klarna-installments",
        "collection": "billing",
        "title": "Can I pay in installments?",
        "answer": """\
Yes. With **Klarna** you can split your order into **4 interest-free payments**, one every 2 weeks. The first payment is taken when your order ships.

- Available for US orders from **$35 to $1,000**
- Choose *Klarna* at checkout; Klarna makes its decision in a few seconds
- Returns and refunds update your Klarna plan automatically within 3 business days

Klarna handles questions about your payment schedule or a missed payment directly in the Klarna app.""",
        "internal_notes": """\
We can't see a customer's Klarna plan or why Klarna declined them. Suggest another payment method and don't guess at reasons.""",
        "tags": ["klarna", "buy-now-pay-later", "payments"],
        "owner": "bianca",
        "verifier_team": "Billing experts",
        "interval_days": 90,
        "state": "verified",
    },
    {
        "key": "price-adjustment",
        "collection": "billing",
        "title": "The price dropped after I bought it. Can I get the difference?",
        "answer": """\
**Yes, once per item.** If we lower the price of something within **7 days** of your order, we'll refund the difference to your original payment method.

- Message us with your order number and a link to the item.
- The lower price must be on our website for the same item, size and color.
- This doesn't apply to final-sale items, promo-code discounts, or flash sales that last less than 24 hours.

The refund shows up within 3–5 business days.""",
        "internal_notes": """\
Admin tool → Orders → Adjust → **Price adjustment**. Only one adjustment per item, even if the price drops again later.""",
        "tags": ["price-adjustment", "refunds"],
        "owner": "bianca",
        "verifier_team": "Billing experts",
        "interval_days": 90,
        "state": "edited",
        "edit": {
            "answer": """\
**Yes, once per item.** If we lower the price of something within **14 days** of your order, we'll refund the difference to your original payment method. Black Friday and Cyber Monday prices count too.

- Message us with your order number and a link to the item.
- The lower price must be on our website for the same item, size and color.
- This doesn't apply to final-sale items, promo-code discounts, or flash sales that last less than 24 hours.

The refund shows up within 3–5 business days.""",
            "summary": "Price adjustment window extended from 7 to 14 days, and Black Friday/Cyber Monday prices now qualify (Q4 policy memo).",
        },
    },
    {
        "key": "payment-fraud-review",
        "collection": "billing",
        "title": "Why is my order on hold?",
        "answer": """\
Your order is on hold for a **routine payment check**. This happens to a small number of orders and protects both you and us. We'll finish within **24 hours** and email you either way, so you don't need to do anything unless we contact you.

If we need more information, we'll email you from orders@example.com and ask you to confirm your billing address or the last 4 digits of your card. We'll never ask for your full card number or a password.""",
        "internal_notes": """\
Never say "fraud" to the customer. Don't release holds yourself; only Billing experts can (Admin tool → Risk queue). If it's urgent (e.g. the customer is travelling), post the order number in #billing-experts. Holds older than 24 hours: escalate to the Billing lead.""",
        "tags": ["payments", "on-hold", "fraud-check"],
        "owner": "bianca",
        "verifier_team": "Billing experts",
        "interval_days": 30,
        "state": "verified",
        "public": False,
    },
    {
        "key": "chargeback-dispute",
        "collection": "billing",
        "title": "I disputed the charge with my bank. What happens now?",
        "answer": """\
Thanks for letting us know. Once you've opened a dispute, your bank handles it, and we can't also refund you directly, or you could be refunded twice.

- We send your bank the order details, usually within **7 days**.
- Your bank decides and tells you the result, which can take up to **75 days**.

If it's something we can fix now, like a missing parcel, you can ask your bank to withdraw the dispute and we'll sort it out directly. That's usually much faster.""",
        "internal_notes": """\
Wording is waiting for legal review. Don't refund orders with a dispute; the admin tool shows a red *Chargeback* badge on them. Forward all dispute questions to Billing experts (billing@example.com).""",
        "tags": ["chargeback", "disputes", "payments"],
        "owner": "bianca",
        "verifier_team": "Billing experts",
        "interval_days": 90,
        "state": "draft",
        "public": False,
    },
    # ------------------------------------------------------------------
    # Holiday season
    # ------------------------------------------------------------------
    {
        "key": "holiday-cutoff-dates",
        "collection": "holiday",
        "title": "Will my order arrive by Christmas?",
        "answer": """\
To get your order by **December 24** (contiguous US), order by:

- **Standard shipping:** **December 18**
- **Express shipping:** **December 22, 1 pm ET**
- **International:** **December 9**

Orders placed after these dates still ship, but we can't promise delivery before Christmas. In the busiest weeks, orders can take up to 2 business days to leave our warehouse, and the dates above already allow for that.

Not sure about a gift? Holiday purchases can be returned until January 31. See [holiday returns](/cards/by-key/holiday-extended-returns).""",
        "internal_notes": """\
Logistics sets these dates with UPS each October. If an order was placed before the cut-off but arrives after Dec 24, refund the shipping fee and offer the [goodwill code](/cards/by-key/goodwill-shipping-code). Never promise a delivery date for orders placed after the cut-off.""",
        "tags": ["holiday", "christmas", "delivery-times"],
        "owner": "leo",
        "verifier_team": "Logistics experts",
        "interval_days": 30,
        "state": "verified",
    },
    {
        "key": "holiday-extended-returns",
        "collection": "holiday",
        "title": "Can I return a holiday gift after 30 days?",
        "answer": """\
**Yes.** Anything bought between **November 1 and December 24** can be returned until **January 31**, even if that's more than 30 days after delivery.

- The usual rules apply: unworn, unwashed, tags attached, and no final-sale items.
- Returns are free for US orders through the [returns portal](https://www.example.com/returns).
- Received it as a gift? Use the order number on the gift receipt, and we'll refund you with a **Northwind e-gift card**.

Purchases from December 25 onwards have the standard [30-day return window](/cards/by-key/return-window).""",
        "internal_notes": """\
The portal applies the Jan 31 deadline automatically based on the order date. Orders placed from Dec 25 get 30 days from delivery, not Jan 31.""",
        "tags": ["holiday", "returns", "return-window"],
        "owner": "leo",
        "verifier_team": "Logistics experts",
        "interval_days": 30,
        "state": "verified",
    },
    {
        "key": "holiday-support-hours",
        "collection": "holiday",
        "title": "When is customer support open over the holidays?",
        "answer": """\
Our usual hours are **Monday–Friday 8 am–10 pm ET** and **Saturday–Sunday 9 am–6 pm ET**. Over the holidays we're open:

- **December 24:** 8 am–2 pm ET
- **December 25:** closed
- **December 26:** 10 am–6 pm ET
- **December 31:** 8 am–4 pm ET
- **January 1:** closed

You can start a return, track an order or cancel an order that hasn't started shipping in your account at any time, even while we're closed. We answer messages sent while we're closed on the next day we're open.""",
        "internal_notes": """\
Sign up for Dec 24, 26 and 31 shifts in the team calendar by December 1. Seasonal hires cover Dec 26 first.""",
        "tags": ["holiday", "support-hours"],
        "owner": "admin",
        "verifier_team": "Support leads",
        "interval_days": 30,
        "state": "due_soon",
    },
    {
        "key": "gift-wrapping",
        "collection": "holiday",
        "title": "Do you offer gift wrapping?",
        "answer": """\
Yes! Choose **Add gift wrapping** for any item in your bag at checkout. It costs **$5 per item** and includes recycled wrapping paper, a ribbon and a card with your message (up to 200 characters).

- Available with standard shipping to US addresses
- Coats and other bulky items come in a gift bag instead, at no extra cost
- Wrapped items never include a price tag or a receipt with prices

You can't add wrapping after the order is placed.""",
        "internal_notes": """\
If wrapping was paid for but is missing, refund the wrapping fee. Don't send a replacement.""",
        "tags": ["holiday", "gift-wrapping", "gifts"],
        "owner": "leo",
        "verifier_team": "Logistics experts",
        "interval_days": 30,
        "state": "edited",
        "edit": {
            "answer": """\
Yes! Choose **Add gift wrapping** for any item in your bag at checkout. It costs **$6 per item** and includes recycled wrapping paper, a ribbon and a card with your message (up to 200 characters).

- Available with standard **and express** shipping to US addresses
- Coats and other bulky items come in a gift bag instead, at no extra cost
- Wrapped items never include a price tag or a receipt with prices

You can't add wrapping after the order is placed.""",
            "summary": "Wrapping price rose from $5 to $6 with the new recycled-paper supplier; express orders can now be gift wrapped.",
        },
    },
    {
        "key": "gift-receipts",
        "collection": "holiday",
        "title": "Can I include a gift receipt?",
        "answer": """\
Yes. Tick **This order is a gift** at checkout and we'll put a **gift receipt** in the parcel instead of the usual packing slip. It lists the items but no prices.

The recipient can use the order number on the gift receipt in the [returns portal](https://www.example.com/returns) to **exchange** an item, or **return it for a Northwind e-gift card** worth the amount paid. Gift returns aren't refunded to the buyer's payment method.

Forgot to tick the box? Message us before the order reaches *Preparing for shipment* and we'll add it.""",
        "internal_notes": """\
Adding it afterwards: Admin tool → Orders → Options → **Gift receipt**. A buyer can ask for a refund to their own payment method only until the recipient has started a return.""",
        "tags": ["holiday", "gift-receipt", "gifts"],
        "owner": "leo",
        "verifier_team": "Logistics experts",
        "interval_days": 30,
        "state": "verified",
    },
    {
        "key": "holiday-dispatch-times",
        "collection": "holiday",
        "title": "Why is my order taking longer to ship in December?",
        "answer": """\
Between **November 24 and December 22** we handle several times our usual number of orders, so parcels can take up to **2 business days** to leave our warehouse instead of 1. Delivery times start once the parcel ships.

Your order is safe in the queue, and you'll get the tracking email as soon as it ships. If you need it by a certain date, check our [Christmas order dates](/cards/by-key/holiday-cutoff-dates), or ask us to upgrade you to express before the order reaches *Preparing for shipment*.""",
        "internal_notes": """\
Upgrade: Admin tool → Orders → **Edit shipping method**. The customer pays the $9.00 difference ($14.95 minus $5.95), or the full $14.95 if their standard shipping was free.""",
        "tags": ["holiday", "dispatch", "shipping"],
        "owner": "leo",
        "verifier_team": "Logistics experts",
        "interval_days": 30,
        "state": "lapsed",
    },
    {
        "key": "holiday-promo-stacking",
        "collection": "holiday",
        "title": "Can I combine a Black Friday deal with a promo code?",
        "answer": """\
Black Friday and Cyber Monday prices are already applied on the product page, so you don't need a code for them. You can add **one promo code** on top, as long as the code's terms allow sale items.

- One promo code per order
- Promo codes can't be used to buy gift cards
- Free-shipping codes count as your one code

You'll find a code's terms in the email or ad where you got it. If a code doesn't work at checkout, send it to us and we'll check it.""",
        "internal_notes": """\
Marketing hasn't confirmed which Q4 codes exclude sale items. Until this card is verified, don't override a rejected code during Black Friday week; escalate to Billing experts.""",
        "tags": ["holiday", "promo-code", "black-friday"],
        "owner": "bianca",
        "verifier_team": "Billing experts",
        "interval_days": 30,
        "state": "draft",
    },
    # ------------------------------------------------------------------
    # Tone of voice & writing (internal)
    # ------------------------------------------------------------------
    {
        "key": "tone-answer-first",
        "collection": "tone",
        "title": "How should I structure a reply?",
        "answer": """\
**Answer first, then explain.** Your first sentence should answer the customer's question, usually with a yes, a no or a date.

- Good: *"Yes, you can still cancel. I've just done it for you."*
- Not so good: *"Thanks for reaching out! Let me look into our cancellation policy for you…"*

After the answer, add only what the customer needs: the next step, a time frame, and a link if it helps. Keep chat messages to 2–4 short sentences, and turn longer answers into a short list.""",
        "internal_notes": "",
        "tags": ["tone", "writing"],
        "owner": "priya",
        "verifier_team": "Support leads",
        "interval_days": 180,
        "state": "verified",
    },
    {
        "key": "tone-canned-phrases",
        "collection": "tone",
        "title": "Which stock phrases should I avoid?",
        "answer": """\
Avoid phrases that sound like a form letter. They make customers feel processed rather than helped.

- *"I apologize for any inconvenience"*: name what went wrong instead: *"Sorry your parcel is late."*
- *"Please be advised that…"*: just say it.
- *"As per our policy…"*: give the reason: *"We can't resell worn items, so…"*
- *"Your satisfaction is our top priority"*: show it by fixing the problem.
- *"Is there anything else I can assist you with today?"*: ask once, at the end, in your own words.

One sincere, specific apology beats three generic ones.""",
        "internal_notes": """\
Quality reviewers look for these phrases in the weekly chat sample.""",
        "tags": ["tone", "writing", "phrases"],
        "owner": "priya",
        "verifier_team": "Support leads",
        "interval_days": 180,
        "state": "verified",
    },
    {
        "key": "tone-customer-name",
        "collection": "tone",
        "title": "How often should I use the customer's name?",
        "answer": """\
**Once**, usually in your first reply: *"Hi {customer_name}, yes, your refund went out today."*

Using the name in every message feels scripted, and it can sound pushy when you're delivering bad news.

- Use the name the customer gives in the chat, which may differ from the one on the order.
- Don't shorten names or guess at nicknames.
- Don't use titles like Mr or Ms unless the customer does.
- If you're not sure which part is the first name, skip it and just say "Hi".""",
        "internal_notes": "",
        "tags": ["tone", "personalization"],
        "owner": "priya",
        "verifier_team": "Support leads",
        "interval_days": 365,
        "state": "verified",
    },
    {
        "key": "tone-plain-words",
        "collection": "tone",
        "title": "What does \"plain words\" mean in our replies?",
        "answer": """\
Write the way you'd explain it to a friend: short sentences, everyday words, no internal jargon.

- "SKU", "RMA", "capture", "WMS" → *item*, *return*, *payment*, *warehouse*
- "utilize" → *use*; "commence" → *start*; "prior to" → *before*
- "Your order is in PFS status" → *"Your order is being packed"*

Use exact dates and numbers rather than vague words: *"by Friday, December 20"*, not *"shortly"*. If a sentence has more than one comma, try splitting it in two.""",
        "internal_notes": """\
Internal terms are fine in internal notes and in chats with colleagues.""",
        "tags": ["tone", "writing", "plain-language"],
        "owner": "priya",
        "verifier_team": "Support leads",
        "interval_days": 180,
        "state": "verified",
    },
    {
        "key": "tone-saying-no",
        "collection": "tone",
        "title": "How do I say no without sounding cold?",
        "answer": """\
Say no clearly, early and once, then move straight to what you *can* do.

1. **Say it:** *"We can't accept returns on worn items."*
2. **Give the reason in one line:** *"We need to be able to sell them again."*
3. **Offer the next best option:** *"If it shrank after one wash, that's a quality issue and we'll replace it."*

Don't hide the no in the middle of a long paragraph, and don't apologize over and over. If there's nothing you can offer, say so honestly and tell the customer who decides next, if anyone.""",
        "internal_notes": """\
If the customer asks a third time, offer to bring in a support lead. See [escalation](/cards/by-key/onboarding-escalation).""",
        "tags": ["tone", "saying-no", "difficult-conversations"],
        "owner": "priya",
        "verifier_team": "Support leads",
        "interval_days": 180,
        "state": "edited",
        "edit": {
            "answer": """\
Say no clearly, early and once, then move straight to what you *can* do.

1. **Say it:** *"We can't accept returns on worn items."*
2. **Give the reason in one line:** *"We need to be able to sell them again."*
3. **Offer the next best option:** *"If it shrank after one wash, that's a quality issue and we'll replace it."*

Where you can, lead with the option instead of the no: *"The quickest way to get the right size is an exchange."* Don't start with "Unfortunately": customers stop reading there. If there's nothing you can offer, say so honestly and tell the customer who decides next, if anyone.""",
            "summary": "Added 'lead with the option' and the advice against opening with 'Unfortunately', following the October chat quality review.",
        },
    },
    {
        "key": "tone-closing-chat",
        "collection": "tone",
        "title": "How do I close a chat?",
        "answer": """\
Close when the question is answered and the customer knows what happens next.

1. **Sum up in one line:** *"Your exchange label is in your inbox, and the new size ships once UPS scans your parcel."*
2. **Ask once** whether there's anything else.
3. If the customer doesn't reply within **5 minutes**, say a short goodbye and close: *"I'll close this chat now. Just start a new one if anything comes up. Have a good evening!"*

Don't close a chat while you're waiting for a colleague. Tell the customer how long it will take instead.""",
        "internal_notes": """\
Closed chats trigger a one-question satisfaction survey. Never ask customers for a good rating.""",
        "tags": ["tone", "closing", "chat"],
        "owner": "priya",
        "verifier_team": "Support leads",
        "interval_days": 180,
        "state": "verified",
    },
    # ------------------------------------------------------------------
    # Onboarding for seasonal hires (internal)
    # ------------------------------------------------------------------
    {
        "key": "onboarding-first-day",
        "collection": "onboarding",
        "title": "What happens on my first day?",
        "answer": """\
Welcome to Northwind! Your first day looks like this (all times ET):

- **9:00 am**: laptop, logins (chat tool, admin tool, kb) and a short security check with IT
- **10:00 am**: meet your support lead and your buddy for the season
- **11:00 am**: read the cards in *Orders & cancellations*, *Shipping & delivery* and *Returns & exchanges*
- **1:00 pm**: shadow your buddy's live chats
- **3:00 pm**: take your first chats, with your buddy checking each reply before you send it
- **5:30 pm**: 15-minute check-in with your lead

Nobody expects you to know everything. The goal is knowing **where to look**.""",
        "internal_notes": """\
Seasonal accounts expire automatically at the end of the contract. Ask your lead if your contract is extended.""",
        "tags": ["onboarding", "first-day"],
        "owner": "admin",
        "verifier_team": "Support leads",
        "interval_days": 90,
        "state": "verified",
    },
    {
        "key": "onboarding-search-copy",
        "collection": "onboarding",
        "title": "How do I find an answer in kb and paste it into a chat?",
        "answer": """\
1. Type two or three **keywords** from the customer's question into the kb search box, e.g. *cancel shipped order* or *refund gift card*.
2. Open the card whose title is closest to the question. A **Verified** card is safe to use. If it's overdue for review, check with your lead first.
3. Read the **internal notes**. They hold exceptions and tool steps, and are never pasted to customers.
4. Use the **copy** button, paste the answer into the chat and fill in any placeholders. See [placeholders](/cards/by-key/onboarding-placeholders).
5. Adjust the first line so it answers the customer's exact question.""",
        "internal_notes": """\
If no card fits after two searches, ask in #support-leads rather than answering from memory.""",
        "tags": ["onboarding", "kb", "search"],
        "owner": "priya",
        "verifier_team": "Support leads",
        "interval_days": 90,
        "state": "verified",
    },
    {
        "key": "onboarding-flag-card",
        "collection": "onboarding",
        "title": "When should I flag a card?",
        "answer": """\
Flag a card whenever it might give a customer the wrong answer, for example when:

- a date, price or time window doesn't match the website or the admin tool
- a link is broken or goes to the wrong page
- customers keep asking a follow-up question the card doesn't cover
- two cards say different things

Use the **Flag** button on the card and write one sentence about what's wrong. The card's owner is notified and usually replies within 1 business day. Until then, check with your lead before using that card.""",
        "internal_notes": """\
Flags aren't complaints about the writer. We'd rather get ten unnecessary flags than send one wrong answer to a customer.""",
        "tags": ["onboarding", "kb", "flagging"],
        "owner": "priya",
        "verifier_team": "Support leads",
        "interval_days": 90,
        "state": "verified",
    },
    {
        "key": "onboarding-escalation",
        "collection": "onboarding",
        "title": "Who do I escalate to when I'm stuck?",
        "answer": """\
Work down this list. Most chats never get past step 2:

1. **kb**: search for a card.
2. **Your buddy** or another agent on shift.
3. **Your support lead**, in #support-leads: exceptions, upset customers, or anything over $100.
4. **Expert teams**: #billing-experts for payments, refunds and disputes; #logistics-experts for lost parcels, returns and carrier problems.

Tell the customer what you're doing and when they'll hear back: *"I'm checking this with our billing team. I'll email you within 2 hours."*""",
        "internal_notes": """\
Urgent problems out of hours (site down, payment outage): call the on-call lead at the number in the team calendar. Don't message experts privately; post in the channel so whoever is on shift picks it up.""",
        "tags": ["onboarding", "escalation"],
        "owner": "admin",
        "verifier_team": "Support leads",
        "interval_days": 60,
        "state": "due_soon",
    },
    {
        "key": "onboarding-chat-etiquette",
        "collection": "onboarding",
        "title": "What are the basics of chat etiquette?",
        "answer": """\
- **Reply to a new chat within 60 seconds**, even if it's only *"Hi, I'm looking into this now."*
- **Handle up to 3 chats at once.** Seasonal hires start with 2.
- If you need more than 2 minutes to check something, **say so** and give a time.
- Short sentences, one topic per message, no ALL CAPS.
- Don't ask for information we already have. Check the order first.
- **Never ask for full card numbers or passwords**, and redact them if a customer posts them.

For wording, follow the [tone of voice](/cards/by-key/tone-answer-first) cards.""",
        "internal_notes": """\
To redact: chat tool → message menu → **Redact**.""",
        "tags": ["onboarding", "chat", "etiquette"],
        "owner": "priya",
        "verifier_team": "Support leads",
        "interval_days": 90,
        "state": "verified",
    },
    {
        "key": "onboarding-angry-customers",
        "collection": "onboarding",
        "title": "How do I handle an angry customer?",
        "answer": """\
Stay calm and focus on the problem, not the tone.

1. **Acknowledge** what went wrong, specifically: *"Your parcel is four days late, and you needed it for Saturday."*
2. **Don't argue or defend.** Save explanations until the customer feels heard.
3. **Say what you'll do, and when:** *"I'm sending a replacement by express today."*
4. If the answer is no, follow [how to say no](/cards/by-key/tone-saying-no).

If a customer becomes abusive, with insults or threats, give one calm warning, then end the chat and tell your lead. You never have to put up with abuse.""",
        "internal_notes": """\
Tag abusive chats *abusive* so leads can review them. You can offer these without approval: a [free-shipping code](/cards/by-key/goodwill-shipping-code) or a shipping-fee refund.""",
        "tags": ["onboarding", "difficult-conversations"],
        "owner": "priya",
        "verifier_team": "Support leads",
        "interval_days": 90,
        "state": "verified",
    },
    {
        "key": "onboarding-placeholders",
        "collection": "onboarding",
        "title": "What are the words in curly braces in some answers?",
        "answer": """\
They're **placeholders**, and you replace them before sending:

- **{customer_name}**: the customer's first name, as they gave it in the chat
- **{order_number}**: the order number, e.g. NW-4821937
- **{goodwill_code}**: the free-shipping code you generated in the admin tool

Replace the whole placeholder, braces included. Before you press send, scan the message for a leftover **{** or **}**. "Hi {customer_name}" is the most common copy-and-paste mistake we see.""",
        "internal_notes": """\
Waiting to hear whether the next chat tool release will fill {customer_name} and {order_number} automatically. Update this card when it does.""",
        "tags": ["onboarding", "placeholders", "kb"],
        "owner": "priya",
        "verifier_team": "Support leads",
        "interval_days": 90,
        "state": "draft",
    },
]


# The Day 1–3 path of the "Q4 2026 seasonal" cohort, over the live onboarding and policy cards (kb.onboarding).
ONBOARDING_PATH = {
    "name": "Q4 2026 seasonal: Day 1–3",
    "team": "Q4 2026 seasonal",
    "lead": "priya",
    "description": "Three days to your first chats on your own: tools and tone, orders, then refunds, returns and the holidays.",
    "due_days": 3,
    "sections": [
        ("Day 1: tools and tone", ["onboarding-first-day", "onboarding-search-copy", "onboarding-flag-card",
                                   "tone-answer-first", "onboarding-chat-etiquette"]),
        ("Day 2: orders and cancellations", ["cancel-before-shipment!", "order-status-meaning", "order-change-items",
                                             "address-change"]),
        ("Day 3: refunds, returns and the holidays", ["return-window", "refund-timing", "holiday-cutoff-dates!",
                                                      "holiday-support-hours", "onboarding-escalation"]),
    ],  # "!" = must acknowledge
    "questions": [
        ("cancel-before-shipment", "An order shows “Preparing for shipment” and the customer wants to cancel. What do you do?",
         ["Tell them it can no longer be cancelled", "Request cancellation from the warehouse in Admin tool",
          "Cancel it and refund at once"], 1,
         "Until it ships the warehouse can still stop it: Orders → Request cancellation. It answers within 2 business hours."),
        ("refund-timing", "We processed a refund to a card. How long until the customer's bank shows it?",
         ["Straight away", "1–3 business days", "5–10 business days"], 2,
         "Cards take 5–10 business days; PayPal 1–3; a gift card straight away."),
        ("holiday-cutoff-dates", "What is the last day to order with express shipping for delivery by December 24?",
         ["December 18", "December 21, 1 pm ET", "December 22, 1 pm ET"], 2,
         "The carrier moved the express cut-off to December 22, 1 pm ET; standard shipping is December 18."),
    ],
    # Where each hire stands: days since they joined, and how far they got (cards read, in path order).
    "hires": {
        "noah": {"joined_days_ago": 0, "read": 0},  # not started
        "seasonal": {"joined_days_ago": 1, "read": 7},  # halfway
        "mia": {"joined_days_ago": 4, "read": "all"},  # finished
        "omar": {"joined_days_ago": 5, "read": 3},  # overdue
        "ella": {"joined_days_ago": 2, "read": "all", "read_old": ["holiday-cutoff-dates"]},  # one card "updated"
    },
    "push": {"card": "holiday-cutoff-dates", "hours": 8,
             "message": "The carrier moved the express cut-off to December 22: confirm you know the new date."},
}
