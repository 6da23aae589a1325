"""Forms of customer service pages; files are read from request.FILES and checked by services."""

from django import forms
from django.utils.translation import gettext_lazy as _

from shipping.models import Warehouse

from .models import CannedReply, Ticket


class TicketForm(forms.Form):
    order = forms.ChoiceField(label=_("About the order"), required=False)
    order_number = forms.CharField(label=_("Order number"), max_length=20, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    category = forms.ChoiceField(label=_("Topic"), choices=Ticket.Category.choices)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    body = forms.CharField(label=_("Your message"), widget=forms.Textarea(attrs={"rows": 6}))

    def __init__(self, *args, orders=None, guest=False, **kwargs):
        super().__init__(*args, **kwargs)
        if guest:
            del self.fields["order"]
            self.fields["order_number"].required = True
            self.fields["email"].required = True
        else:
            del self.fields["order_number"], self.fields["email"]
            choices = [("", _("No particular order"))]
            choices += [(order.number, order.number) for order in orders or ()]
            self.fields["order"].choices = choices


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Your reply"), widget=forms.Textarea(attrs={"rows": 5}))


class StaffReplyForm(forms.Form):
    canned_reply = forms.ModelChoiceField(
        label=_("Canned reply"),
        queryset=CannedReply.objects.all(),
        required=False,
        empty_label=_("None"),
        help_text=_("Its text goes before what you write below."),
    )
    body = forms.CharField(
        label=_("Message"), widget=forms.Textarea(attrs={"rows": 6}), required=False
    )
    internal = forms.BooleanField(
        label=_("Internal note (the customer does not see it)"), required=False
    )

    def clean(self):
        data = super().clean()
        parts = [
            data["canned_reply"].body if data.get("canned_reply") else "",
            data.get("body", ""),
        ]
        data["text"] = "\n\n".join(part.strip() for part in parts if part.strip())
        if not data["text"]:
            raise forms.ValidationError(_("Write a message or choose a canned reply."))
        return data


class ReturnForm(forms.Form):
    reason = forms.CharField(
        label=_("Why are you returning these?"), widget=forms.Textarea(attrs={"rows": 4})
    )

    pay_back_to = forms.CharField(
        label=_("Account for the refund (IBAN and account holder)"),
        max_length=255,
        help_text=_("You paid by cash or bank transfer, so we transfer the refund to you."),
    )

    def __init__(self, *args, lines=(), by_hand=False, **kwargs):
        super().__init__(*args, **kwargs)
        if not by_hand:
            del self.fields["pay_back_to"]
        self.lines = list(lines)
        for line, left in self.lines:
            self.fields[f"line_{line.pk}"] = forms.IntegerField(
                label=f"{line.product_title} {line.variant_name}".strip(),
                min_value=0,
                max_value=left,
                initial=0,
                required=False,
                disabled=left == 0,
            )

    def quantities(self):
        return {
            line.pk: self.cleaned_data.get(f"line_{line.pk}") or 0 for line, _left in self.lines
        }


class ReceiveReturnForm(forms.Form):
    warehouse = forms.ModelChoiceField(
        label=_("Received into"), queryset=Warehouse.objects.filter(is_active=True)
    )
