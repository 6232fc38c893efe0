"""Signing in to the portal and its admin with the sign-in throttle: a form error (and 429) when over the limit."""
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError

from .exceptions import TooManyAttempts
from .throttling import sign_in_attempt


class ThrottledSignInMixin:
    """Replaces AuthenticationForm.clean's `authenticate` with `sign_in_attempt`; keeps its other checks."""

    too_many_attempts: TooManyAttempts | None = None

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = sign_in_attempt(request=self.request, username=username, password=password)
            except TooManyAttempts as exc:
                self.too_many_attempts = exc
                raise ValidationError(exc.message, code=exc.code) from None
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class SignInForm(ThrottledSignInMixin, AuthenticationForm):
    pass


class AdminSignInForm(ThrottledSignInMixin, AdminAuthenticationForm):
    pass


class SignInView(LoginView):
    form_class = SignInForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.too_many_attempts:
            response.status_code = 429
            response["Retry-After"] = str(form.too_many_attempts.retry_after)
        return response
