// Mounts Stripe's Payment Element and confirms the payment; Stripe then sends the shopper
// to the return page, which asks Stripe for the outcome.
(function () {
  "use strict";
  var form = document.getElementById("payment-form");
  if (!form || typeof Stripe === "undefined") {
    return;
  }
  var stripe = Stripe(form.dataset.publishableKey);
  var elements = stripe.elements({ clientSecret: form.dataset.clientSecret, locale: "auto" });
  elements.create("payment").mount("#payment-element");
  var button = document.getElementById("payment-submit");
  var message = document.getElementById("payment-message");

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    message.hidden = true;
    stripe
      .confirmPayment({ elements: elements, confirmParams: { return_url: form.dataset.returnUrl } })
      .then(function (result) {
        // Only reached when Stripe could not confirm (a declined card, a typo): show why.
        message.textContent = result.error.message;
        message.hidden = false;
        button.disabled = false;
      });
  });
})();
